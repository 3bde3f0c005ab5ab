"""Typed configuration: pydantic v2 models loaded from YAML with dotted overrides.

Every section forbids unknown keys, so a typo fails loudly instead of being ignored.
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

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hadamard_restore.errors import HadamardRestoreError

Task = Literal["low-light", "dehaze", "underwater", "custom"]


class ConfigError(HadamardRestoreError, ValueError):
    """A configuration file or override is invalid; the message names every bad key."""


class Strict(BaseModel):
    """Base for all sections: unknown keys are errors, assignments are validated, numbers are finite."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class DemoDataConfig(Strict):
    """The built-in synthetic dataset made from photos that installed packages ship."""

    size: int = Field(96, ge=16, description="side of the square clean crops, pixels")
    crops_per_image: int = Field(4, ge=1)
    task: Literal["low-light", "dehaze", "underwater"] = "low-light"


class DataConfig(Strict):
    """Where the paired images are and how they are split.

    ``source: folder`` reads ``root`` in a known ``layout`` (auto-detected when null);
    ``layout: paired`` with ``degraded_dir``/``reference_dir`` reads any two folders
    matched by file stem. ``source: demo`` generates the built-in synthetic data.
    """

    source: Literal["folder", "demo"] = "folder"
    root: Path | None = None
    layout: str | None = None
    degraded_dir: str | None = None
    reference_dir: str | None = None
    split_file: Path | None = None
    val_ratio: float = Field(0.2, gt=0.0, lt=1.0, description="held-out share of the pairs")
    group_key: Literal["auto", "reference_hash", "scene", "stem", "none"] = "auto"
    max_pairs: int | None = Field(None, ge=2, description="use only this many pairs (CPU-sized runs)")
    test_root: Path | None = None
    test_layout: str | None = None
    demo: DemoDataConfig = DemoDataConfig()


class ClassifierConfig(Strict):
    """The clear-vs-degraded classifier that judges stage 1 (docs/method.md section 4)."""

    arch: Literal["resnet18", "resnet50"] = "resnet18"
    pretrained: bool = True
    steps: int = Field(300, ge=1)
    batch_size: int = Field(16, ge=1)
    crop: int | None = Field(None, ge=16, description="training crop side; null: search.crop (the size stage 1 judges)")
    scale_jitter: float = Field(0.0, ge=0, lt=1, description="each step's crop side is uniform in crop*(1 +- jitter)")
    lr: float = Field(1e-4, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    checkpoint: Path | None = Field(None, description="use this trained classifier instead of training one")
    eval_crop: int | None = Field(None, ge=16, description="side of the held-out windows judged; null: search.crop")
    eval_crops_per_image: int = Field(4, ge=1, description="random held-out windows per image")


class NetConfig(Strict):
    """The Hadamard network (docs/method.md sections 1-2)."""

    channels: int = Field(32, ge=4)
    num_hnu: int = Field(7, ge=1)
    norm: Literal["instance", "none"] = "instance"
    genotype: str = Field("paper-lol", description="bundled name or path of genotype.json")


class LossConfig(Strict):
    """The loss mix (docs/method.md section 3)."""

    weights: str = Field("equal", description="bundled name or path of loss_weights.json")
    vgg_backbone: Literal["vgg16", "vgg19"] = "vgg16"
    lpips_net: Literal["alex", "vgg"] = "alex"


class SearchConfig(Strict):
    """Both bilevel stages and their schedule (docs/method.md sections 5-6)."""

    loss_steps: int = Field(200, ge=1)
    arch_steps: int = Field(200, ge=1)
    alternations: int = Field(1, ge=1, description="t in the paper: stage 1 then stage 2, t times")
    mode: Literal["hierarchical", "joint"] = "hierarchical"
    loss_model: Literal["supernet", "unet"] = "supernet"
    upper: Literal["classifier", "reference"] = Field(
        "classifier", description="stage-1 upper objective: the classifier (paper) or L1 + (1 - SSIM) vs references"
    )
    beta_param: Literal["projected", "softmax"] = Field(
        "projected", description="stage-1 beta: projected >= 0 (paper; all-zero stops) or T * softmax(logits), fixed T"
    )
    crop: int = Field(192, ge=8)
    batch_size: int = Field(1, ge=1)
    train_portion: float = Field(0.5, gt=0.0, lt=1.0)
    w_lr: float = Field(5e-4, gt=0)
    w_momentum: float = Field(0.9, ge=0, lt=1)
    virtual_weight_decay: float = Field(3e-4, ge=0)
    upper_lr: float = Field(5e-4, gt=0)
    upper_betas: tuple[float, float] = (0.5, 0.999)
    upper_weight_decay: float = Field(1e-4, ge=0)
    grad_clip: float = Field(5.0, gt=0)
    hessian: Literal["finite_difference", "exact", "first_order"] = "finite_difference"
    checkpoint_every: int = Field(50, ge=1)
    log_every: int = Field(10, ge=1)


class TrainConfig(Strict):
    """Training of the derived network (docs/method.md section 5.4)."""

    steps: int = Field(2000, ge=1)
    batch_size: int = Field(1, ge=1)
    crop: int | None = Field(192, ge=8, description="null trains on full images (needs batch_size 1)")
    optimizer: Literal["adamw", "sgd"] = "adamw"
    lr: float = Field(1e-4, gt=0)
    weight_decay: float = Field(3e-4, ge=0)
    momentum: float = Field(0.9, ge=0, lt=1)
    schedule: Literal["constant", "cosine"] = "cosine"
    warmup_steps: int = Field(0, ge=0)
    grad_clip: float = Field(5.0, gt=0)
    ema_decay: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="exponential moving average of the weights, "
        "validated and saved as model.pt (e.g. 0.999); 0 disables it",
    )
    amp: bool = Field(True, description="bfloat16 autocast on GPU; ignored on CPU")
    channels_last: bool = True
    val_every: int = Field(200, ge=1)
    val_max_images: int | None = Field(None, ge=1)
    checkpoint_every: int = Field(200, ge=1)
    log_every: int = Field(20, ge=1)


class EvalConfig(Strict):
    """Evaluation protocol (docs/evaluation.md §4)."""

    y_channel: bool = False
    crop_border: int = Field(0, ge=0)
    lpips_net: Literal["alex", "vgg"] = "alex"
    grid_images: int = Field(4, ge=0)


class EnhanceConfig(Strict):
    """Inference on photos of any size."""

    tile: int = Field(512, ge=32, description="tile side used above max_untiled_pixels")
    overlap: int = Field(32, ge=0)
    max_untiled_pixels: int = Field(1024 * 1024, ge=1)
    norm_stats: Literal["global", "tile"] = Field(
        "global",
        description="tiled runs: instance-norm statistics from a downscaled copy of the whole "
        "image (global) or from each tile's own content (tile)",
    )
    backend: Literal["auto", "eager", "channels-last", "compile", "onnx"] = Field(
        "auto",
        description="how the network runs: auto (the fastest backend whose output matches eager "
        "within 1e-3, timed once per model and size class and cached), or one by name",
    )
    threads: int | None = Field(
        None, ge=1, description="CPU threads (default: torch's, i.e. the physical cores or OMP_NUM_THREADS)"
    )


class RunConfig(Strict):
    """A whole run: one YAML file per task under ``configs/``."""

    task: Task = "custom"
    name: str = "run"
    seed: int = 0
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N")
    out_dir: Path = Path("runs")
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
        else:
            got = e.get("input")
            lines.append(f"{key}: {e['msg']} (expected {_expected(model, e['loc'])}, got {got!r})")
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
            value = yaml.safe_load(raw) if raw.strip() else None
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
            tree = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
        if not isinstance(tree, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of sections")
        base = path.resolve().parent
    apply_overrides(tree, overrides)
    cfg = config_from_dict(tree)
    for key in ("root", "test_root", "split_file"):
        value = getattr(cfg.data, key)
        if value is not None:
            value = Path(str(value).replace("${HADAMARD_RESTORE_DATA}", _data_env()))
            setattr(cfg.data, key, value if value.is_absolute() else (base / value).resolve())
    return cfg


def _data_env() -> str:
    """``${HADAMARD_RESTORE_DATA}`` in a config path: the env var, else ``../shared/data``."""
    import os

    return str(Path(os.environ.get("HADAMARD_RESTORE_DATA", "../shared/data")).resolve())


def dump_config(cfg: RunConfig) -> str:
    """The resolved config as YAML (written into every run directory)."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
