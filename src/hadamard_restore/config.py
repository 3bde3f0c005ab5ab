"""Typed configuration: pydantic v2 models loaded from YAML with dotted overrides.

The sections (``data``, ``classifier``, ``net``, ``loss``, ``search``, ``train``, ``eval``,
``enhance``: pydantic v2 models whose fields carry defaults, bounds and help) and the
:class:`RunConfig` that gathers them live here, with the upper bounds of sizes and counts
(``MAX_CHANNELS``, ``MAX_STEPS``, ...). Every section forbids unknown keys, so a typo fails loudly
instead of being ignored.
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
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hadamard_restore.config_yaml import load_yaml, read_yaml_text, short_repr
from hadamard_restore.errors import HadamardRestoreError

# ---------------------------------------------------------------- the sections
Task = Literal["low-light", "dehaze", "underwater", "custom"]

# Upper bounds of sizes and counts, checked when a config is read, before anything is allocated
# (docs/reliability.md, round 3). Far above any real run; they stop a typo (channels=100000,
# steps=10**23) from ending in an out-of-memory traceback or a run that never ends.
MAX_CHANNELS = 1024  # net.channels (the paper: 32)
MAX_HNU = 64  # net.num_hnu (the paper: 7)
Upsample = Literal["transpose", "transpose-icnr", "resize"]  # net.upsample (the paper: transpose)
UPSAMPLERS: tuple[str, ...] = get_args(Upsample)
MAX_STEPS = 10**8  # every step count and every interval
MAX_BATCH = 1024  # every batch size
MAX_CROP = 4096  # every crop side, pixels
MAX_BATCH_PIXELS = 2**26  # batch_size * crop**2 of one training or search batch (67 M pixels)
MAX_COUNT = 10**6  # other counts (images, windows, crops per image)


def count(default: Any, ge: int = 1, le: int = MAX_STEPS, description: str | None = None, **more: Any) -> Any:
    """A count: a strict integer (``true`` or ``2.0`` are refused) between ``ge`` and ``le``."""
    return Field(default, ge=ge, le=le, strict=True, description=description, **more)


def _batch_fits(batch: int, crop: int | None, section: str) -> None:
    if crop is not None and batch * crop * crop > MAX_BATCH_PIXELS:
        raise ValueError(
            f"{section}.batch_size * {section}.crop**2 = {batch} * {crop}**2 = {batch * crop * crop} pixels per "
            f"batch, more than the limit {MAX_BATCH_PIXELS}; lower the batch size or the crop"
        )


class Strict(BaseModel):
    """Base for all sections: unknown keys are errors, assignments are validated, numbers are finite."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class DemoDataConfig(Strict):
    """The built-in synthetic dataset made from photos that installed packages ship."""

    size: int = count(96, ge=16, le=MAX_CROP, description="side of the square clean crops, pixels")
    crops_per_image: int = count(4, le=MAX_COUNT, description="clean crops cut from each bundled photo")
    task: Literal["low-light", "dehaze", "underwater"] = Field("low-light", description="degradation applied")


class DataConfig(Strict):
    """Where the paired images are and how they are split.

    ``source: folder`` reads ``root`` in a known ``layout`` (auto-detected when null);
    ``layout: paired`` with ``degraded_dir``/``reference_dir`` reads any two folders
    matched by file stem. ``source: demo`` generates the built-in synthetic data.
    """

    source: Literal["folder", "demo"] = Field("folder", description="folder: read root; demo: the built-in data")
    root: Path | None = Field(None, description="dataset folder (relative: to the config file)")
    layout: str | None = Field(None, description="lol-v1, lol-v2, reside, uieb, lsui, euvp, paired; null: detected")
    degraded_dir: str | None = Field(None, description="layout paired: the degraded folder, relative to root")
    reference_dir: str | None = Field(None, description="layout paired: the reference folder, relative to root")
    split_file: Path | None = Field(None, description="pinned split (`data split`); null: made from the seed")
    val_ratio: float = Field(0.2, gt=0.0, lt=1.0, description="held-out share of the pairs")
    group_key: Literal["auto", "reference_hash", "scene", "stem", "none"] = Field(
        "auto", description="pairs sharing this stay on one side of a split; auto: reference_hash"
    )
    max_pairs: int | None = count(None, ge=2, description="use only this many pairs (CPU-sized runs)")
    test_root: Path | None = Field(None, description="test folder `run` evaluates on; null: the validation split")
    test_layout: str | None = Field(None, description="layout of test_root; null: detected")
    demo: DemoDataConfig = DemoDataConfig()


class ClassifierConfig(Strict):
    """The clear-vs-degraded classifier that judges stage 1 (docs/method.md section 4)."""

    arch: Literal["resnet18", "resnet50", "vgg16-features", "alexnet-features"] = Field(
        "vgg16-features",
        description="resnet*: the paper's ResNet; *-features: frozen ImageNet trunk + trained head (the default: "
        "it judged best on LOL, SOTS and LSUI, benchmarks/results/studies/judge-accuracy.md)",
    )
    pretrained: bool = Field(True, description="ImageNet trunk when cached (a *-features arch requires it)")
    steps: int = count(300, description="optimizer steps")
    batch_size: int = count(16, le=MAX_BATCH, description="pairs per step (each gives a clear and a degraded image)")
    crop: int | None = count(
        None, ge=16, le=MAX_CROP, description="training crop side; null: search.crop (the size stage 1 judges)"
    )
    scale_jitter: float = Field(0.0, ge=0, lt=1, description="each step's crop side is uniform in crop*(1 +- jitter)")
    lr: float = Field(1e-4, gt=0, description="Adam lr of a resnet* classifier (the whole network)")
    head_lr: float = Field(1e-3, gt=0, description="Adam lr of a *-features classifier's head (its trunk is frozen)")
    weight_decay: float = Field(1e-4, ge=0, description="Adam weight decay")
    checkpoint: Path | None = Field(None, description="use this trained classifier instead of training one")
    eval_crop: int | None = count(
        None, ge=16, le=MAX_CROP, description="side of the held-out windows judged; null: search.crop"
    )
    eval_crops_per_image: int = count(4, le=MAX_COUNT, description="random held-out windows per image")

    @model_validator(mode="after")
    def _feature_trunk_is_pretrained(self) -> ClassifierConfig:
        if self.arch.endswith("-features") and not self.pretrained:
            raise ValueError(
                f"arch {self.arch} judges with a frozen ImageNet trunk and cannot start from scratch; "
                "set classifier.pretrained=true (and run `hadamard-restore backbones install`) or use arch resnet18"
            )
        _batch_fits(self.batch_size, self.crop, "classifier")
        return self


class NetConfig(Strict):
    """The Hadamard network (docs/method.md sections 1-2)."""

    channels: int = count(32, ge=4, le=MAX_CHANNELS, multiple_of=2, description="width C (even: C/2 at full size)")
    num_hnu: int = count(7, le=MAX_HNU, description="Hadamard network units in the body")
    norm: Literal["instance", "none"] = Field("instance", description="normalisation inside the units")
    genotype: str = Field("paper-lol", description="bundled name or path of genotype.json")
    space: Literal["paper", "global"] = Field(
        "paper",
        description="search space: the paper's candidates, or 'global' adding globalres_1x1 (whole-image context)"
        " to every HNU layer; a trained network takes its space from its genotype",
    )
    upsample: Upsample = Field(
        "transpose",
        description="the decoder's x2 up-samplers: 'transpose' (the paper's k2 s2 transposed convolution), "
        "'transpose-icnr' (the same, initialised with four equal taps: no checkerboard at the start, but training "
        "brings it back) or "
        "'resize' (bilinear x2 then a 3x3 convolution: no checkerboard locked to the pixel grid)",
    )


class LossConfig(Strict):
    """The loss mix (docs/method.md section 3)."""

    weights: str = Field("equal", description="bundled name or path of loss_weights.json")
    vgg_backbone: Literal["vgg16", "vgg19"] = Field("vgg16", description="network of the VGG perceptual term")
    lpips_net: Literal["alex", "vgg"] = Field("alex", description="network of the LPIPS loss term")
    searched_without: tuple[str, ...] = Field(
        ("tv", "laplacian"),
        description="terms set to 0 when the final training reads weights a loss search found "
        "(hadamard-restore run, tools/make_pretrained.py), as the authors' final training does; [] trains "
        "with the searched weights as found; a --loss-weights file is used as written (names checked when a run "
        "starts: losses.loss_weights.check_loss_names)",
    )


class SearchConfig(Strict):
    """Both bilevel stages and their schedule (docs/method.md sections 5-6)."""

    loss_steps: int = count(200, description="steps of stage 1 (loss weights)")
    arch_steps: int = count(200, description="steps of stage 2 (architecture)")
    alternations: int = count(1, le=1000, description="t in the paper: stage 1 then stage 2, t times")
    mode: Literal["hierarchical", "joint"] = Field("hierarchical", description="stages in turn (paper) or together")
    loss_model: Literal["supernet", "unet"] = Field("supernet", description="network trained in stage 1")
    architecture: str = Field(
        "search",
        min_length=1,
        max_length=4096,
        description="'search': stage 2 searches the architecture (the paper); a genotype name (e.g. all-3c) "
        "or genotype.json path: that fixed architecture, stage 2 skipped (stage 1 still searches the loss "
        "weights; needs mode hierarchical and alternations 1)",
    )
    upper: Literal["classifier", "reference"] = Field(
        "classifier", description="stage-1 upper objective: the classifier (paper) or L1 + (1 - SSIM) vs references"
    )
    beta_param: Literal["projected", "softmax"] = Field(
        "projected", description="stage-1 beta: projected >= 0 (paper; all-zero stops) or T * softmax(logits), fixed T"
    )
    crop: int = count(192, ge=8, le=MAX_CROP, description="side of the random training crops, pixels")
    batch_size: int = count(1, le=MAX_BATCH, description="crops per step")
    train_portion: float = Field(0.5, gt=0.0, lt=1.0, description="share of training pairs for the lower level")
    w_lr: float = Field(5e-4, gt=0, description="SGD lr of the network weights (lower level)")
    w_momentum: float = Field(0.9, ge=0, lt=1, description="SGD momentum of the network weights")
    virtual_weight_decay: float = Field(3e-4, ge=0, description="weight decay of the unrolled (virtual) step")
    upper_lr: float = Field(5e-4, gt=0, description="Adam lr of the searched variables (beta, alpha)")
    upper_betas: tuple[float, float] = Field((0.5, 0.999), description="Adam betas of the searched variables")
    upper_weight_decay: float = Field(1e-4, ge=0, description="Adam weight decay of the searched variables")
    grad_clip: float = Field(5.0, gt=0, description="gradient norm clip")
    hessian: Literal["finite_difference", "exact", "first_order"] = Field(
        "finite_difference", description="hypergradient: second-order by finite differences or exact, or first order"
    )
    checkpoint_every: int = count(50, description="steps between resumable checkpoints")
    log_every: int = count(10, description="steps between log records")

    @model_validator(mode="after")
    def _batch_is_bounded(self) -> SearchConfig:
        _batch_fits(self.batch_size, self.crop, "search")
        return self

    @model_validator(mode="after")
    def _fixed_architecture_alone(self) -> SearchConfig:
        if self.architecture != "search" and (self.mode != "hierarchical" or self.alternations != 1):
            raise ValueError(
                f"search.architecture={self.architecture!r} fixes the architecture, so there is no stage 2 to "
                f"alternate or join with (mode {self.mode!r}, alternations {self.alternations}); set "
                "search.mode=hierarchical and search.alternations=1, or search.architecture=search"
            )
        return self


class TrainConfig(Strict):
    """Training of the derived network (docs/method.md section 5.4)."""

    steps: int = count(2000, description="optimizer steps")
    batch_size: int = count(1, le=MAX_BATCH, description="crops per step")
    crop: int | None = count(192, ge=8, le=MAX_CROP, description="null trains on full images (needs batch_size 1)")
    optimizer: Literal["adamw", "sgd"] = Field("adamw", description="sgd with momentum: the authors' recipe")
    lr: float = Field(1e-4, gt=0, description="peak learning rate")
    weight_decay: float = Field(3e-4, ge=0, description="weight decay")
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD momentum (optimizer sgd)")
    schedule: Literal["constant", "cosine"] = Field("cosine", description="learning-rate schedule after warmup")
    warmup_steps: int = count(0, ge=0, description="steps of linear warmup")
    grad_clip: float = Field(5.0, gt=0, description="gradient norm clip")
    ema_decay: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="exponential moving average of the weights (e.g. 0.999), with a warm-up: update t uses "
        "min(ema_decay, (1 + t) / (10 + t)); validation scores the average and the raw weights and keeps "
        "the better as model.pt (its meta and history.json say which); 0 disables it",
    )
    amp: bool = Field(
        True,
        description="bfloat16 autocast of the network and the VGG/LPIPS loss terms where bfloat16 is native "
        "(CUDA; CPUs with AVX512-BF16 or AMX); float32 elsewhere",
    )
    channels_last: bool = Field(True, description="channels-last memory format (faster convolutions)")
    val_every: int = count(200, description="steps between validations (which pick model.pt)")
    val_max_images: int | None = count(
        None, le=MAX_COUNT, description="validate on the first N held-out pairs; null: all"
    )
    checkpoint_every: int = count(200, description="steps between last.pt saves")
    log_every: int = count(20, description="steps between log records")

    @model_validator(mode="after")
    def _batch_is_bounded(self) -> TrainConfig:
        _batch_fits(self.batch_size, self.crop, "train")
        return self


class EvalConfig(Strict):
    """Evaluation protocol (docs/evaluation.md §4)."""

    y_channel: bool = Field(False, description="PSNR/SSIM on the BT.601 luma instead of RGB")
    crop_border: int = count(0, ge=0, le=MAX_CROP, description="pixels removed from each side before scoring")
    lpips_net: Literal["alex", "vgg"] = Field("alex", description="network of the LPIPS metric")
    grid_images: int = count(4, ge=0, le=MAX_COUNT, description="rows of grid.png (input | output | reference)")


class EnhanceConfig(Strict):
    """Inference on photos of any size."""

    tile: int = count(512, ge=32, le=8192, description="tile side used above max_untiled_pixels")
    overlap: int = count(32, ge=0, le=MAX_CROP, description="overlap between neighbouring tiles, pixels")
    max_untiled_pixels: int = count(1024 * 1024, le=2**28, description="images with more pixels run tile by tile")
    norm_stats: Literal["global", "tile"] = Field(
        "global",
        description="tiled runs: instance-norm statistics from a downscaled copy of the whole "
        "image (global) or from each tile's own content (tile)",
    )
    backend: Literal["auto", "timed", "eager", "channels-last", "bf16", "compile", "onnx"] = Field(
        "auto",
        description="how the network runs: auto (bf16 where native, else channels-last, used when "
        "its output on a crop matches eager within 1e-3, or 0.02 on the clamped output for bf16; "
        "checked once per model and size class and cached, nothing timed), timed (time every "
        "backend once and cache the fastest: slow), or one by name",
    )
    precision: Literal["auto", "fp32"] = Field(
        "auto",
        description="auto: backend auto may run in bfloat16 where bf16 is native (CUDA, CPUs with "
        "AVX512-BF16/AMX) and the clamped output is within 0.02 of float32; fp32: full precision only",
    )
    threads: int | None = count(
        None, le=1024, description="CPU threads (default: torch's, i.e. the physical cores or OMP_NUM_THREADS)"
    )


# ---------------------------------------------------------------- the whole run

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
