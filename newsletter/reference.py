"""The configuration reference (docs/configuration.md), generated from the settings models.

Every key, its type, default and bounds come from the pydantic models in
``feeds.config`` and ``newsletter.config``; its meaning is the comment written
above the field there (the models keep one comment per field). ``tests/test_docs.py``
fails when the page and the models drift apart; ``FEEDLETTER_UPDATE_DOCS=1`` with
that test rewrites the page. Imports only the config.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from feeds.config import RuleSettings
from feeds.selection.collector import Rules
from newsletter.config import Config

HEADER = """# Configuration reference

`config.yaml` holds every setting; `feedletter init` writes a commented one and
the repository's own `config.yaml` is the working default for the bundled sample.
Paths are relative to the config file. Unknown keys are errors that name the key
and suggest the closest valid one; a value out of bounds names the key and the
bounds. Secrets never go in this file: keys ending in `_env` name the environment
variable that holds one.

This page is generated from the settings models (`feeds/config.py`,
`newsletter/config/`) by `newsletter/reference.py`; `tests/test_docs.py` fails
when it drifts (run it with `FEEDLETTER_UPDATE_DOCS=1` to regenerate).
"""


def field_comments(model: type[BaseModel]) -> dict[str, str]:
    """The comment lines written directly above each field of ``model`` (or of the
    model it extends), joined."""
    comments: dict[str, str] = {}
    for base in reversed(model.__mro__):
        ours = base.__module__.startswith(("feeds", "newsletter"))
        if ours and isinstance(base, type) and issubclass(base, BaseModel):
            comments.update(_own_comments(base))
    return comments


def _own_comments(model: type) -> dict[str, str]:
    comments: dict[str, str] = {}
    pending: list[str] = []
    for line in inspect.getsource(model).splitlines()[1:]:
        stripped = line.strip()
        if line.startswith("    ") and not line.startswith("     ") and stripped.startswith("#"):
            pending.append(stripped.lstrip("#").strip())
            continue
        match = re.match(r"^    (\w+): ", line)
        if match and pending:
            comments[match.group(1)] = " ".join(pending)
        pending = []
    return comments


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in args if a is not type(None)]
        return " or ".join(names) + (" or null" if type(None) in args else "")
    if origin is Literal:
        return ", ".join(f"`{a}`" for a in args)
    if origin is list:
        return f"list of {_type_name(args[0])}s" if args else "list"
    return {
        bool: "bool",
        int: "int",
        float: "number",
        str: "string",
        Path: "path",
    }.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _bounds(info: FieldInfo) -> str:
    parts = []
    for item in info.metadata:
        for attr, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            value = getattr(item, attr, None)
            if value is not None:
                parts.append(f"{sign} {value:,}" if isinstance(value, int) else f"{sign} {value}")
        if getattr(item, "min_length", None):
            parts.append("not empty")
    return ", ".join(parts)


def _value(value: Any) -> str:
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f"`{value}`" if value else '`""`'
    if isinstance(value, Path):
        return f"`{value}`"
    if isinstance(value, list):
        return "`[" + ", ".join(str(v) for v in value) + "]`"
    if isinstance(value, int):
        return f"`{value}`"
    if isinstance(value, float):
        return f"`{value:g}`"
    return f"`{value}`"


def _default(model: type[BaseModel], name: str, info: FieldInfo) -> str:
    if model is RuleSettings:  # unset rules inherit; the built-in values are Rules'
        return _value(getattr(Rules(), name))
    if info.default_factory is not None:
        return _value(info.default_factory())  # type: ignore[call-arg]
    if info.default is PydanticUndefined:
        return "required"
    if isinstance(info.default, BaseModel):
        return ""
    return _value(info.default)


def _optional_section(annotation: Any) -> type[BaseModel] | None:
    """The model of a section that may be left out (``DkimSettings | None``)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        models = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(models) == 1 and type(None) in typing.get_args(annotation):
            return _section(models[0])
    return None


def _section(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation)
        if isinstance(item, type) and issubclass(item, BaseModel):
            return item
    return None


def rows(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(key, type, default, meaning) for every key of ``model``, sections expanded."""
    found = []
    comments = field_comments(model)
    for name, info in model.model_fields.items():
        if info.exclude:
            continue
        key = prefix + (info.alias or name)
        nested = _section(info.annotation)
        if nested is RuleSettings and prefix:  # a topic's rules: the same keys as rules.*
            found.append((key, "mapping", "`{}`", comments.get(name, "")))
            continue
        optional = _optional_section(info.annotation)
        if optional is not None:  # the section's own row, then its keys
            found.append((key, "mapping or null", "`null`", comments.get(name, "")))
            found.extend(rows(optional, key + "."))
            continue
        if nested is not None:
            is_list = typing.get_origin(info.annotation) is list
            if is_list:
                doc = comments.get(name) or inspect.getdoc(nested) or ""
                found.append((key, "list", "`[]`", doc.split("\n\n")[0].replace("\n", " ")))
            found.extend(rows(nested, key + ("[]." if is_list else ".")))
            continue
        kind = _type_name(info.annotation)
        if model is RuleSettings and getattr(Rules(), name) is not None:
            kind = kind.removesuffix(" or null")  # null there only means "inherit"
        bounds = _bounds(info)
        meaning = comments.get(name, "")
        found.append((key, kind + (f" ({bounds})" if bounds else ""), _default(model, name, info),
                      meaning))  # fmt: skip
    return found


def section_title(model: type[BaseModel]) -> str:
    return (inspect.getdoc(model) or model.__name__).split("\n")[0]


def reference() -> str:
    """The whole page, as Markdown."""
    out = [HEADER]
    groups: dict[str, list[tuple[str, str, str, str]]] = {"": []}
    for row in rows(Config):
        key = row[0]
        section = key.split(".")[0].removesuffix("[]")
        is_section = section in Config.model_fields and _section(
            Config.model_fields[section].annotation
        )
        groups.setdefault(section if is_section else "", []).append(row)
    titles = {
        name: section_title(_section(info.annotation) or Config)
        for name, info in Config.model_fields.items()
        if _section(info.annotation) is not None
    }
    titles[""] = "Top-level keys: where things are."
    for name, group in groups.items():
        out.append(f"## {'`' + name + '`' if name else 'Paths'}\n")
        out.append(titles.get(name, "").replace("``", "`") + "\n")
        out.append("| key | type | default | meaning |\n| --- | --- | --- | --- |")
        for key, kind, default, meaning in group:
            out.append(f"| `{key}` | {kind} | {default} | {_cell(meaning)} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def missing_meanings() -> list[str]:
    """Keys whose field has no comment (the page would say nothing about them)."""
    return [key for key, kind, _, meaning in rows(Config) if not meaning and kind != "list"]
