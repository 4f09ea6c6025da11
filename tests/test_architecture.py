"""The shape of the code, as tests: which package may import which, one version
string, and a wheel that can set up a project.

The layers are the design's (docs/design.md): a package imports only packages of
lower layers and its own modules. Every import counts, at the top of a module or
inside a function, so a lazy import cannot hide a wrong dependency.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

import feeds

ROOT = Path(__file__).resolve().parent.parent

# package (or top-level module) → layer; lower layers know nothing of higher ones
LAYERS = {
    # the feeds: never the newsletter
    "feeds": 0,  # __version__
    "feeds.errors": 0,
    "feeds.text": 0,
    "feeds.urls": 0,
    "feeds.model": 0,
    "feeds.reading": 1,
    "feeds.selection": 2,
    "feeds.config": 3,
    "feeds.rendering": 4,
    "feeds.publishing": 4,
    "feeds.build": 5,
    # the newsletter, on top of the feeds
    "newsletter": 10,
    "newsletter.errors": 10,
    "newsletter.addresses": 11,
    "newsletter.state": 11,
    "newsletter.replay": 11,  # answers an unchanged build before the rest is imported
    "newsletter.config": 12,
    "newsletter.mail": 13,
    "newsletter.reference": 13,  # the generated configuration reference
    "newsletter.issue": 14,
    "newsletter.audience": 15,
    "newsletter.sending": 16,
    "newsletter.reporting": 16,
    "newsletter.review": 17,
    "newsletter.web": 18,
    "newsletter.runtime": 18,
    "newsletter.cli": 19,
    "newsletter.__main__": 20,
}


def unit(module: str) -> str:
    """The package a module belongs to, as LAYERS names it."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 else parts[0]


def modules() -> dict[str, Path]:
    found = {}
    for top in ("feeds", "newsletter"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts).removesuffix(".__init__")
            found[name] = path
    return found


def imports(path: Path) -> set[str]:
    """Every feeds/newsletter module that ``path`` imports, anywhere in it."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module in ("feeds", "newsletter"):  # from feeds import __version__
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
            else:
                names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {n for n in names if n.split(".")[0] in ("feeds", "newsletter")}


def layer_of(module: str) -> int:
    name = unit(module)
    if name not in LAYERS:  # e.g. ``from feeds import __version__``
        name = name.split(".")[0]
    return LAYERS[name]


def test_every_package_has_a_layer_and_says_what_it_is_for() -> None:
    for name, path in modules().items():
        assert unit(name) in LAYERS or name.split(".")[0] in LAYERS, name
        if path.name == "__init__.py":
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
            assert doc and len(doc) > 40, f"{path}: the package docstring says what it is for"


def test_no_package_imports_one_above_it_or_beside_it() -> None:
    wrong = []
    for name, path in modules().items():
        here = unit(name)
        for target in imports(path):
            there = unit(target)
            if there == here or (there not in LAYERS and there.split(".")[0] == here):
                continue
            if layer_of(target) >= LAYERS[here] and not (
                LAYERS[here] in (0, 10) and layer_of(target) == LAYERS[here]
            ):
                wrong.append(f"{name} imports {target}")
    assert wrong == []


def test_the_feeds_never_import_the_newsletter() -> None:
    offenders = [
        f"{name} imports {target}"
        for name, path in modules().items()
        if name.split(".")[0] == "feeds"
        for target in imports(path)
        if target.split(".")[0] == "newsletter"
    ]
    assert offenders == []
    # and at run time: building the feeds loads nothing of the newsletter
    code = "import sys, feeds.build; print(sorted(m for m in sys.modules if m.startswith('newsletter')))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"


def test_each_command_module_stands_alone() -> None:
    """A CLI module may share only ``group`` (the group, options, output helpers)."""
    crossing = [
        f"{name} imports {target}"
        for name, path in modules().items()
        if name.startswith("newsletter.cli.")
        for target in imports(path)
        if target.startswith("newsletter.cli.") and target != "newsletter.cli.group"
    ]
    assert crossing == []


def test_the_layer_table_catches_a_wrong_import(tmp_path: Path) -> None:
    source = "from newsletter.cli.group import cli\n"
    (tmp_path / "bad.py").write_text(source)
    assert imports(tmp_path / "bad.py") == {"newsletter.cli.group"}
    assert layer_of("newsletter.cli.group") > LAYERS["newsletter.state"]
    (tmp_path / "lazy.py").write_text("def f():\n    import newsletter.web.app\n")
    assert imports(tmp_path / "lazy.py") == {"newsletter.web.app"}


def test_one_version_string() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools["dynamic"]["version"] == {"attr": "feeds.__version__"}
    from importlib.metadata import version

    assert version("feedletter") == feeds.__version__


@pytest.mark.skipif(
    os.environ.get("FEEDLETTER_SKIP_WHEEL") == "1", reason="FEEDLETTER_SKIP_WHEEL=1"
)
def test_a_wheel_from_the_repository_sets_up_a_project(tmp_path: Path) -> None:
    """``pip wheel .``, installed into a fresh environment with the same packages
    as ours (no network), runs ``feedletter init`` in an empty folder, and the
    project it writes builds."""
    # build from the files git tracks, copied: what a clone has, and nothing of
    # setuptools' build folder left in the checkout
    source = tmp_path / "source"
    tracked = (
        subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, tracked):
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name).is_symlink():
            target.symlink_to(os.readlink(ROOT / name))
        elif (ROOT / name).is_file():
            shutil.copy2(ROOT / name, target)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "-q", "-w", str(wheels), str(source)],
        check=True, capture_output=True, cwd=tmp_path,
    )  # fmt: skip
    (wheel,) = wheels.glob("feedletter-*.whl")
    env_dir = tmp_path / "env"
    # the fresh environment sees our installed dependencies, not our source tree
    venv.create(env_dir, system_site_packages=False, with_pip=False)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    ours = [p for p in sys.path if p.endswith("site-packages")]
    Path(site, "deps.pth").write_text("\n".join(ours) + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "-q", str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip
    project = tmp_path / "empty"
    project.mkdir()
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    init = subprocess.run(
        [str(env_dir / "bin" / "feedletter"), "init", "."],
        cwd=project, capture_output=True, text=True, env=clean,
    )  # fmt: skip
    assert init.returncode == 0, init.stderr
    where = subprocess.run(
        [str(python), "-c", "import feeds; print(feeds.__file__)"],
        cwd=project, capture_output=True, text=True, env=clean, check=True,
    ).stdout  # fmt: skip
    assert str(env_dir) in where  # the wheel's code ran, not the repository's
    build = subprocess.run(
        [str(env_dir / "bin" / "feedletter"), "build", "--no-digest"],
        cwd=project, capture_output=True, text=True, env=clean,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    assert (project / "output" / "index.html").is_file()
