"""The site's icon (``site.icon``) in every feed, the pages and ``check``.

Read back as readers read them: feedparser for Atom and RSS, JSON for JSON Feed,
the page's own ``<link rel="icon">``; the W3C validator's run over the sample is
in ``test_w3c``.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner
from PIL import Image

from feeds.build import BuildResult, build_feeds
from feeds.errors import ConfigError
from newsletter.cli import cli
from newsletter.config import load_config

from .conftest import NOW, ROOT


def test_every_feed_and_page_of_the_sample_shows_its_icon(sample_build: BuildResult) -> None:
    settings = sample_build.project.settings
    out = settings.output
    icon = f"{settings.site.base_url}/icon.png"
    assert (out / "icon.png").read_bytes() == (ROOT / "content" / "icon.png").read_bytes()
    atoms = sorted(out.rglob("atom.xml"))
    assert len(atoms) == 8  # the all-topics feed and seven topics
    for atom in atoms:
        feed = feedparser.parse(atom.read_bytes())
        assert not feed.bozo, atom
        assert feed.feed.icon == icon and feed.feed.logo == icon
        rss = feedparser.parse((atom.parent / "rss.xml").read_bytes())
        assert not rss.bozo
        # RSS 2.0's <image> needs a title and link equal to the channel's
        assert rss.feed.image.href == icon
        assert rss.feed.image.title == rss.feed.title
        assert rss.feed.image.link == rss.feed.link
        document = json.loads((atom.parent / "feed.json").read_bytes())
        assert document["icon"] == icon and document["favicon"] == icon
    for page in [out / "index.html", *out.glob("topics/*/index.html")]:
        assert re.search(rf'<link rel="icon" href="{re.escape(icon)}">', page.read_text()), page


def project_with_icon(fixture_project: Path, size: tuple[int, int] | None) -> Path:
    """The fixture project with ``site.icon: content/icon.png`` (an image of ``size``,
    or no file at all for None)."""
    config = fixture_project / "config.yaml"
    text = config.read_text()
    config.write_text(text.replace("site:\n", "site:\n  icon: content/icon.png\n", 1))
    if size is not None:
        (fixture_project / "content").mkdir(exist_ok=True)
        Image.new("RGB", size, (200, 80, 20)).save(fixture_project / "content" / "icon.png")
    return config


def test_check_says_whether_the_icon_is_square(
    fixture_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(fixture_project)
    project_with_icon(fixture_project, (300, 200))
    result = CliRunner().invoke(cli, ["check"])
    assert "Icon: warning: site.icon: " in result.stdout
    assert "icon.png is 300×200, not square; readers crop or squash it\n" in result.stdout
    Image.new("RGB", (256, 256)).save(fixture_project / "content" / "icon.png")
    result = CliRunner().invoke(cli, ["check"])
    assert "Icon: content/icon.png (square)\n" in result.stdout


def test_an_unreadable_icon_stops_the_build_before_anything_is_replaced(
    fixture_project: Path,
) -> None:
    config_file = project_with_icon(fixture_project, (128, 128))
    config = load_config(config_file)
    build_feeds(config, NOW)
    published = {p: p.read_bytes() for p in config.output.rglob("*") if p.is_file()}
    assert config.output / "icon.png" in published
    (fixture_project / "content" / "icon.png").unlink()
    with pytest.raises(ConfigError) as raised:
        build_feeds(load_config(config_file), NOW)
    assert raised.value.key == "site.icon"
    assert "cannot read" in raised.value.problem and "fix the path or set null" in str(raised.value)
    assert {p: p.read_bytes() for p in config.output.rglob("*") if p.is_file()} == published


def test_a_new_icon_is_published_by_the_next_build(fixture_project: Path) -> None:
    config_file = project_with_icon(fixture_project, (128, 128))
    build_feeds(load_config(config_file), NOW)
    output = load_config(config_file).output
    first = (output / "icon.png").read_bytes()
    replacement = fixture_project / "new.png"
    Image.new("RGB", (512, 512), (0, 90, 200)).save(replacement)
    shutil.copy(replacement, fixture_project / "content" / "icon.png")
    build_feeds(load_config(config_file), NOW)  # the icon's stat is in the build's stamp
    assert (output / "icon.png").read_bytes() == replacement.read_bytes() != first


def test_an_icon_that_rss_cannot_carry_is_a_config_error(fixture_project: Path) -> None:
    config = fixture_project / "config.yaml"
    config.write_text(config.read_text().replace("site:\n", "site:\n  icon: logo.svg\n", 1))
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    assert raised.value.key == "site.icon"
    assert ".gif, .jpeg, .jpg, .png" in raised.value.problem
