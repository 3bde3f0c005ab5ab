"""The configuration reference, generated from the pydantic models of :mod:`hadamard_restore.config`.

Every key with its type, bounds, default and description: ``hadamard-restore config show [SECTION]``
prints it, and ``docs/config.md`` is :func:`markdown` (regenerated with
``hadamard-restore config show --markdown > docs/config.md``; a test keeps the file in sync).
"""

from __future__ import annotations

import inspect
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from hadamard_restore.config import RunConfig

TOP = "top"  # the keys outside every section (task, name, seed, device, out_dir)
REGENERATE = "hadamard-restore config show --markdown > docs/config.md"
_BOUNDS = (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))


@dataclass(frozen=True)
class Key:
    """One configuration key: dotted name, type (with bounds), default as YAML, description."""

    name: str
    type: str
    default: str
    description: str


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def type_name(annotation: Any) -> str:
    """``int``, ``path | null``, ``instance | none`` (a Literal's choices), ``[float, float]``,
    ``[str, ...]`` (a tuple of any length)."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return " | ".join(str(a) for a in args)
    if origin in (Union, types.UnionType):
        names = [type_name(a) for a in args if a is not type(None)]
        return " | ".join(names + (["null"] if type(None) in args else []))
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return f"[{type_name(args[0])}, ...]"
    if origin is tuple:
        return "[" + ", ".join(type_name(a) for a in args) + "]"
    if annotation is Path:
        return "path"
    return getattr(annotation, "__name__", str(annotation))


def yaml_value(value: Any) -> str:
    """A default as it is written in a config file."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(yaml_value(v) for v in value) + "]"
    return str(value)


def _bounds(metadata: list) -> str:
    found = [f"{sign} {getattr(m, attr)}" for m in metadata for attr, sign in _BOUNDS if hasattr(m, attr)]
    return ", ".join(found)


def keys(model: type[BaseModel] = RunConfig, prefix: str = "") -> list[Key]:
    """Every leaf key of ``model`` in declaration order (nested sections flattened with dots)."""
    found: list[Key] = []
    for name, field in model.model_fields.items():
        sub = field.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            found += keys(sub, f"{prefix}{name}.")
            continue
        bounds = _bounds(field.metadata)
        kind = type_name(field.annotation) + (f", {bounds}" if bounds else "")
        found.append(Key(prefix + name, kind, yaml_value(field.default), field.description or ""))
    return found


def sections() -> dict[str, tuple[str, list[Key]]]:
    """``{section: (its description, its keys)}``; :data:`TOP` holds the keys outside every section."""
    every = keys()
    out = {TOP: ("Keys outside every section.", [k for k in every if "." not in k.name])}
    for name, field in RunConfig.model_fields.items():
        if _is_model(field.annotation):
            doc = inspect.cleandoc(field.annotation.__doc__ or "").split("\n\n")[0].replace("\n", " ")
            out[name] = (doc, [k for k in every if k.name.startswith(name + ".")])
    return out


def select(section: str | None) -> dict[str, tuple[str, list[Key]]]:
    """The sections to show: all, one section, or the keys under a dotted prefix (``train.lr``).

    Raises:
        KeyError: no section or key of that name (the message lists the sections).
    """
    found = sections()
    if section is None:
        return found
    if section in found:
        return {section: found[section]}
    head = section.split(".")[0]
    if head in found:
        matches = [k for k in found[head][1] if k.name == section or k.name.startswith(section + ".")]
        if matches:
            return {head: (found[head][0], matches)}
    raise KeyError(f"no configuration section or key {section!r}; sections: {', '.join(found)}")


def text(section: str | None = None) -> str:
    """The reference for a terminal: per key ``name  (type; default D)`` and its description."""
    lines = []
    for name, (doc, rows) in select(section).items():
        lines += [f"[{name}] {doc}"]
        for k in rows:
            lines += [f"  {k.name}  ({k.type}; default {k.default})", f"      {k.description or '-'}"]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _cell(value: str) -> str:
    return value.replace("|", "\\|")


def markdown() -> str:
    """docs/config.md: one table per section."""
    lines = [
        "# Configuration reference",
        "",
        f"Generated from the pydantic models (`src/hadamard_restore/config.py`); regenerate with "
        f"`{REGENERATE}`. Set any key in a YAML file (`section: {{key: value}}`) or with "
        "`--set section.key=value`; `hadamard-restore config show [SECTION]` prints this on the terminal.",
        "",
    ]
    for name, (doc, rows) in sections().items():
        lines += [f"## {name}", "", doc, "", "| key | type | default | description |", "|---|---|---|---|"]
        lines += [f"| `{k.name}` | {_cell(k.type)} | `{k.default}` | {_cell(k.description)} |" for k in rows]
        lines.append("")
    return "\n".join(lines)
