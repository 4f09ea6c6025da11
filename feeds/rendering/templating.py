"""The one Jinja2 environment of a process, per templates folder.

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

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError, select_autoescape

from feeds import __version__
from feeds.errors import ConfigError


def environment(folder: Path) -> Environment:
    """The environment over the templates in ``folder`` (``ConfigError`` if it is none)."""
    if not folder.is_dir():
        raise ConfigError("templates", f"{folder} is not a folder of Jinja2 templates")
    return _environment(folder.resolve())


@lru_cache(maxsize=16)
def _environment(folder: Path) -> Environment:
    env = Environment(
        loader=FileSystemLoader(folder),
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
    try:
        return env.get_template(name).render(**context).encode("utf-8")
    except TemplateError as exc:
        raise ConfigError("templates", f"{name}: {exc}") from exc
