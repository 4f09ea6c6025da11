"""The stat scan of a records folder (``feeds.reading.scan``): what it lists, and
that its two-process split gives the serial scan's answer, or its error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from feeds.errors import ConfigError
from feeds.reading import scan as scanning
from feeds.reading.scan import FileStat, scan


def _tree(root: Path) -> list[str]:
    """A folder of records with everything a scan must skip; returns the record
    paths it must find, relative to ``root``."""
    wanted = ["a.md", "b.markdown", "C.MD", "news/2021/x.md", "news/y.Markdown", "z/deep/er/w.md"]
    skipped = [".hidden.md", "notes.txt", "a.md.bak", ".git/HEAD.md", "news/.draft/q.md", "README"]
    for index, name in enumerate(wanted + skipped):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x" * (index + 1), encoding="utf-8")
    (root / "folder.md").mkdir()  # a folder named like a record is a folder
    (root / "folder.md" / "inside.md").write_text("inside", encoding="utf-8")
    return [*wanted, "folder.md/inside.md"]


def _expected(root: Path, names: list[str]) -> list[FileStat]:
    found = []
    for name in names:
        path = str(root.resolve() / name)
        info = os.stat(path)
        found.append(FileStat(path, info.st_size, info.st_mtime_ns))
    return sorted(found)


def test_scan_lists_record_files_only_sorted_by_path(tmp_path: Path) -> None:
    names = _tree(tmp_path)
    expected = _expected(tmp_path, names)
    assert [Path(f.path).relative_to(tmp_path.resolve()).as_posix() for f in expected] == sorted(
        names, key=lambda name: str(tmp_path.resolve() / name)
    )
    assert scan(tmp_path, parallel_from=10**9) == expected


def test_split_scan_equals_serial(tmp_path: Path) -> None:
    names = _tree(tmp_path)
    for many in range(300):  # enough that both halves span several folders
        name = f"bulk{many % 7}/r{many:04}.md"
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("y" * many, encoding="utf-8")
        names.append(name)
    expected = _expected(tmp_path, names)
    assert scan(tmp_path, parallel_from=1) == expected
    assert scan(tmp_path, parallel_from=10**9) == expected
    listing = [
        (str(tmp_path.resolve() / f"bulk{n}"), sorted(os.listdir(tmp_path / f"bulk{n}")))
        for n in range(7)
    ]
    assert scanning._stats(listing, split=True) == scanning._stats(listing, split=False)


def test_a_file_gone_before_its_stat_is_left_out_split_or_not(tmp_path: Path) -> None:
    top = str(tmp_path.resolve())
    (tmp_path / "a.md").write_text("a", encoding="utf-8")
    info = os.stat(tmp_path / "a.md")
    kept = (info.st_size, info.st_mtime_ns)
    gone = (scanning.GONE, scanning.GONE)
    # gone from the second half (the child's)
    late = [(top, ["a.md"] * 10 + ["gone.md"])]
    # gone from the first half while the child has more to send than a pipe holds
    early = [(top, ["gone.md"] + ["a.md"] * 20_000)]
    # a whole folder gone since it was listed
    folder = [(top, ["a.md"] * 3), (top + "/went", ["b.md", "c.md"]), (top, ["a.md"])]
    for listing, expected in (
        (late, [kept] * 10 + [gone]),
        (early, [gone] + [kept] * 20_000),
        (folder, [kept] * 3 + [gone] * 2 + [kept]),
    ):
        for split in (False, True):
            stats = scanning._stats(listing, split=split)
            assert list(zip(stats[::2], stats[1::2], strict=True)) == expected, (split, listing[0])


def test_records_deleted_while_the_scan_runs_are_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deleted between the listing and the stat, a record is not in the scan, as if
    it had gone a moment earlier; so is a folder deleted after its parent was listed."""
    names = _tree(tmp_path)
    (tmp_path / "doomed").mkdir()
    (tmp_path / "doomed" / "d.md").write_text("d", encoding="utf-8")
    listed = scanning._list_folder

    def racing(top: str) -> tuple[list[str], list[str]]:
        found = listed(top)
        if top == str(tmp_path.resolve()):  # the root listed: now delete behind it
            (tmp_path / "a.md").unlink()
            (tmp_path / "doomed" / "d.md").unlink()
            (tmp_path / "doomed").rmdir()
        return found

    expected = _expected(tmp_path, [n for n in names if n != "a.md"])
    for parallel_from in (1, 10**9):
        monkeypatch.setattr(scanning, "_list_folder", racing)
        (tmp_path / "a.md").write_text("x", encoding="utf-8")
        (tmp_path / "doomed").mkdir(exist_ok=True)
        (tmp_path / "doomed" / "d.md").write_text("d", encoding="utf-8")
        assert scan(tmp_path, parallel_from=parallel_from) == expected


def test_scan_of_a_missing_folder_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        scan(tmp_path / "nowhere")
    assert raised.value.key == "content.news"
