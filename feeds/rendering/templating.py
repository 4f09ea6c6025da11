"""The one Jinja2 environment of a process, per templates folder.

A project's ``templates`` folder overrides feedletter's default templates
(``DEFAULT_TEMPLATES``: a link to the repository's ``templates/``, a copy in a
wheel) by name: a template it lacks is the default one, so a folder made by an
older ``feedletter init`` keeps working when a release adds a template, and an
operator may copy only the templates they restyle.

Autoescaping is on for every template but plain-text ones (``*.txt.j2``), so
every string from a record, a topic file or a reader is escaped for HTML and
XML; undefined names are errors. The environment is made once per folder and
process (``lru_cache``) and shared by every thread: Jinja2's environments are
safe to render from several threads, and its loader notices a template that
changed on disk (``serve --watch``), so nothing needs rebuilding.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from feeds import __version__
from feeds.errors import ConfigError

if TYPE_CHECKING:
    from jinja2 import Environment

# (Jinja2 is imported where it is used: a build that proves nothing changed, which
# needs DEFAULT_TEMPLATES for its fingerprint, never loads it.)

# feedletter's own templates
DEFAULT_TEMPLATES = (Path(__file__).parent / "templates").resolve()


def environment(folder: Path) -> Environment:
    """The environment over the templates in ``folder`` (``ConfigError`` if it is none)."""
    if not folder.is_dir():
        raise ConfigError("templates", f"{folder} is not a folder of Jinja2 templates")
    return _environment(folder.resolve())


@lru_cache(maxsize=16)
def _environment(folder: Path) -> Environment:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    folders = [folder] if folder == DEFAULT_TEMPLATES else [folder, DEFAULT_TEMPLATES]
    env = Environment(
        loader=FileSystemLoader(folders),
        # HTML and XML templates escape everything; plain-text ones (*.txt.j2) don't
        autoescape=select_autoescape(disabled_extensions=("txt.j2",), default=True),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["isodate"] = lambda moment: moment.strftime("%Y-%m-%d")
    env.globals["generator"] = f"feedletter {__version__}"
    return env


def render(env: Environment, name: str, **context: object) -> bytes:
    """Render one template to UTF-8 bytes; template mistakes become ConfigErrors."""
    from jinja2 import TemplateError

    try:
        return env.get_template(name).render(**context).encode("utf-8")
    except TemplateError as exc:
        raise ConfigError("templates", f"{name}: {exc}") from exc
