"""Typed configuration: pydantic v2 models loaded from YAML with dotted overrides.

Every section (defined in :mod:`hadamard_restore.config_sections`; import them from there) forbids
unknown keys, so a typo fails loudly instead of being ignored.
Load a file with :func:`load_config`; apply ``--set a.b=c`` style overrides with
:func:`apply_overrides` (values are parsed as YAML scalars, so ``1e-4`` is a float and
``[1, 2]`` a list). Errors are :class:`ConfigError` with one line per bad key, naming the
dotted key and the expected type.

Examples:
    >>> cfg = load_config("configs/demo.yaml", ["train.steps=10"])
    >>> cfg.train.steps
    10
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError

from hadamard_restore.config_sections import (
    ClassifierConfig,
    DataConfig,
    EnhanceConfig,
    EvalConfig,
    LossConfig,
    NetConfig,
    SearchConfig,
    Strict,
    Task,
    TrainConfig,
)
from hadamard_restore.config_yaml import load_yaml, read_yaml_text, short_repr
from hadamard_restore.errors import HadamardRestoreError

__all__ = [
    "ConfigError",
    "RunConfig",
    "apply_overrides",
    "config_from_dict",
    "dump_config",
    "format_validation_error",
    "load_config",
]


class ConfigError(HadamardRestoreError, ValueError):
    """A configuration file or override is invalid; the message names every bad key."""


class RunConfig(Strict):
    """A whole run: one YAML file per task under ``configs/``."""

    task: Task = Field("custom", description="the restoration task; named in the report and the classifier record")
    name: str = Field("run", description="first part of the run directory's name")
    seed: int = Field(0, description="seed of every random stream (splits, crops, initialisation)")
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N")
    out_dir: Path = Field(Path("runs"), description="where run directories are made")
    data: DataConfig = DataConfig()
    classifier: ClassifierConfig = ClassifierConfig()
    net: NetConfig = NetConfig()
    loss: LossConfig = LossConfig()
    search: SearchConfig = SearchConfig()
    train: TrainConfig = TrainConfig()
    eval: EvalConfig = EvalConfig()
    enhance: EnhanceConfig = EnhanceConfig()


def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def _expected(model: type[BaseModel], loc: tuple) -> str:
    """The declared type of the field at ``loc`` (for error messages)."""
    current: Any = model
    field = None
    for part in loc:
        if isinstance(part, int) or not (isinstance(current, type) and issubclass(current, BaseModel)):
            break
        field = current.model_fields.get(part)
        if field is None:
            return "unknown"
        current = field.annotation
    return _type_name(field.annotation) if field is not None else "unknown"


def format_validation_error(err: ValidationError, model: type[BaseModel] = RunConfig) -> str:
    """One line per problem: ``key: what is wrong (expected TYPE)``."""
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden":
            parent = e["loc"][:-1]
            sub: Any = model
            for p in parent:
                sub = sub.model_fields[p].annotation if p in getattr(sub, "model_fields", {}) else None
            allowed = ", ".join(sorted(sub.model_fields)) if sub is not None else "?"
            lines.append(f"{key}: unknown key (allowed here: {allowed})")
        elif e["type"] == "value_error":  # a section's own check: its message names the values
            lines.append(f"{key}: {e['msg'].removeprefix('Value error, ')}")
        else:
            got = e.get("input")
            lines.append(f"{key}: {e['msg']} (expected {_expected(model, e['loc'])}, got {short_repr(got)})")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def _set_dotted(tree: dict, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = tree
    for p in parts[:-1]:
        child = node.get(p)
        if child is None:
            child = node[p] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"override {dotted!r}: {p!r} is a value, not a section")
        node = child
    node[parts[-1]] = value


def apply_overrides(tree: dict, overrides: list[str] | None) -> dict:
    """Apply ``key.sub=value`` strings to a raw config dict (values parsed as YAML)."""
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like section.key=value (e.g. train.lr=1e-4)")
        key, raw = item.split("=", 1)
        key = key.strip()
        if not key:
            raise ConfigError(f"override {item!r} has an empty key")
        try:
            value = load_yaml(raw) if raw.strip() else None
        except yaml.YAMLError as exc:
            raise ConfigError(f"override {item!r}: value is not valid YAML ({exc})") from exc
        _set_dotted(tree, key, value)
    return tree


def config_from_dict(tree: dict) -> RunConfig:
    """Validate a raw dict into a :class:`RunConfig`, with readable errors."""
    try:
        return RunConfig.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> RunConfig:
    """Read a YAML config (or defaults when ``path`` is None) and apply overrides.

    Relative paths inside the file (``data.root``, ``data.test_root``, ``data.split_file``)
    are resolved against the file's folder, so configs work from any working directory.
    """
    tree: dict = {}
    base = Path.cwd()
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist (see configs/ for examples)")
        try:
            tree = load_yaml(read_yaml_text(path)) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from None
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: cannot read the config: {exc}") from None
        if not isinstance(tree, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of sections")
        base = path.resolve().parent
    apply_overrides(tree, overrides)
    cfg = config_from_dict(tree)
    for key in ("root", "test_root", "split_file"):
        value = getattr(cfg.data, key)
        if value is not None:
            if DATA_VAR in str(value):
                value = Path(str(value).replace(DATA_VAR, _data_env(f"data.{key}", value)))
            setattr(cfg.data, key, value if value.is_absolute() else (base / value).resolve())
    if cfg.data.split_file is not None and cfg.data.split_file.is_dir():
        raise ConfigError(f"data.split_file {cfg.data.split_file} is a folder; give a file name, e.g. split.json")
    return cfg


DATA_VAR = "${HADAMARD_RESTORE_DATA}"


def _data_env(key: str, value: Path) -> str:
    """What ``${HADAMARD_RESTORE_DATA}`` in ``key`` stands for: the environment variable, which must be set."""
    folder = os.environ.get("HADAMARD_RESTORE_DATA", "")
    if not folder.strip():
        raise ConfigError(
            f"{key} is {value}, but the environment variable HADAMARD_RESTORE_DATA is not set; "
            "set it to the folder holding your datasets (export HADAMARD_RESTORE_DATA=/path/to/data), "
            f"or give {key} as a path (--set {key}=PATH)"
        )
    return str(Path(folder).resolve())


def dump_config(cfg: RunConfig) -> str:
    """The resolved config as YAML (written into every run directory)."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)


def _flat(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(_flat(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: tree}


def config_changes(old_yaml: str, new_yaml: str, sections: tuple[str, ...], free: frozenset[str]) -> list[dict]:
    """``[{key, checkpoint, now}]`` for every dotted key of ``sections`` that differs between two
    dumped configs (:func:`dump_config` text), keys in ``free`` left out; read with the bounded
    YAML loader (a run's files may have been tampered with).

    A key missing from the old config although its section is there, and at its default now, is no
    change: the setting was added after that run was made, and its default is what the run did
    (e.g. ``net.space``)."""
    old, new = load_yaml(old_yaml or "") or {}, load_yaml(new_yaml or "") or {}
    old_flat = _flat({k: old.get(k) for k in sections})
    new_flat = _flat({k: new.get(k) for k in sections})
    defaults = _flat(RunConfig().model_dump(mode="json"))

    def added_at_default(k: str) -> bool:
        parent = k.rsplit(".", 1)[0] + "."
        return (
            k not in old_flat
            and any(o.startswith(parent) for o in old_flat)
            and k in defaults
            and new_flat.get(k) == defaults[k]
        )

    return [
        {"key": k, "checkpoint": old_flat.get(k), "now": new_flat.get(k)}
        for k in sorted((set(old_flat) | set(new_flat)) - free)
        if old_flat.get(k) != new_flat.get(k) and not added_at_default(k)
    ]
