"""The sections of a run's configuration (``data``, ``classifier``, ``net``, ``loss``, ``search``,
``train``, ``eval``, ``enhance``): pydantic v2 models whose fields carry defaults, bounds and help.

:class:`~hadamard_restore.config.RunConfig` gathers them; every section forbids unknown keys, so a
typo fails loudly instead of being ignored. Import them from :mod:`hadamard_restore.config`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Task = Literal["low-light", "dehaze", "underwater", "custom"]

# Upper bounds of sizes and counts, checked when a config is read, before anything is allocated
# (docs/reliability.md, round 3). Far above any real run; they stop a typo (channels=100000,
# steps=10**23) from ending in an out-of-memory traceback or a run that never ends.
MAX_CHANNELS = 1024  # net.channels (the paper: 32)
MAX_HNU = 64  # net.num_hnu (the paper: 7)
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
    crops_per_image: int = count(4, le=MAX_COUNT)
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
    max_pairs: int | None = count(None, ge=2, description="use only this many pairs (CPU-sized runs)")
    test_root: Path | None = None
    test_layout: str | None = None
    demo: DemoDataConfig = DemoDataConfig()


class ClassifierConfig(Strict):
    """The clear-vs-degraded classifier that judges stage 1 (docs/method.md section 4)."""

    arch: Literal["resnet18", "resnet50", "vgg16-features", "alexnet-features"] = Field(
        "vgg16-features",
        description="resnet*: the paper's ResNet; *-features: frozen ImageNet trunk + trained head (the default: "
        "it judged best on LOL, SOTS and LSUI, benchmarks/results/judge-accuracy.md)",
    )
    pretrained: bool = Field(True, description="ImageNet trunk when cached (a *-features arch requires it)")
    steps: int = count(300)
    batch_size: int = count(16, le=MAX_BATCH)
    crop: int | None = count(
        None, ge=16, le=MAX_CROP, description="training crop side; null: search.crop (the size stage 1 judges)"
    )
    scale_jitter: float = Field(0.0, ge=0, lt=1, description="each step's crop side is uniform in crop*(1 +- jitter)")
    lr: float = Field(1e-4, gt=0, description="Adam lr of a resnet* judge (the whole network)")
    head_lr: float = Field(1e-3, gt=0, description="Adam lr of a *-features judge's head (its trunk is frozen)")
    weight_decay: float = Field(1e-4, ge=0)
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
                "set classifier.pretrained=true (and run `hadamard-restore weights install`) or use arch resnet18"
            )
        _batch_fits(self.batch_size, self.crop, "classifier")
        return self


class NetConfig(Strict):
    """The Hadamard network (docs/method.md sections 1-2)."""

    channels: int = count(32, ge=4, le=MAX_CHANNELS, multiple_of=2, description="width C (even: C/2 at full size)")
    num_hnu: int = count(7, le=MAX_HNU)
    norm: Literal["instance", "none"] = "instance"
    genotype: str = Field("paper-lol", description="bundled name or path of genotype.json")


class LossConfig(Strict):
    """The loss mix (docs/method.md section 3)."""

    weights: str = Field("equal", description="bundled name or path of loss_weights.json")
    vgg_backbone: Literal["vgg16", "vgg19"] = "vgg16"
    lpips_net: Literal["alex", "vgg"] = "alex"


class SearchConfig(Strict):
    """Both bilevel stages and their schedule (docs/method.md sections 5-6)."""

    loss_steps: int = count(200)
    arch_steps: int = count(200)
    alternations: int = count(1, le=1000, description="t in the paper: stage 1 then stage 2, t times")
    mode: Literal["hierarchical", "joint"] = "hierarchical"
    loss_model: Literal["supernet", "unet"] = "supernet"
    upper: Literal["classifier", "reference"] = Field(
        "classifier", description="stage-1 upper objective: the classifier (paper) or L1 + (1 - SSIM) vs references"
    )
    beta_param: Literal["projected", "softmax"] = Field(
        "projected", description="stage-1 beta: projected >= 0 (paper; all-zero stops) or T * softmax(logits), fixed T"
    )
    crop: int = count(192, ge=8, le=MAX_CROP)
    batch_size: int = count(1, le=MAX_BATCH)
    train_portion: float = Field(0.5, gt=0.0, lt=1.0)
    w_lr: float = Field(5e-4, gt=0)
    w_momentum: float = Field(0.9, ge=0, lt=1)
    virtual_weight_decay: float = Field(3e-4, ge=0)
    upper_lr: float = Field(5e-4, gt=0)
    upper_betas: tuple[float, float] = (0.5, 0.999)
    upper_weight_decay: float = Field(1e-4, ge=0)
    grad_clip: float = Field(5.0, gt=0)
    hessian: Literal["finite_difference", "exact", "first_order"] = "finite_difference"
    checkpoint_every: int = count(50)
    log_every: int = count(10)

    @model_validator(mode="after")
    def _batch_is_bounded(self) -> SearchConfig:
        _batch_fits(self.batch_size, self.crop, "search")
        return self


class TrainConfig(Strict):
    """Training of the derived network (docs/method.md section 5.4)."""

    steps: int = count(2000)
    batch_size: int = count(1, le=MAX_BATCH)
    crop: int | None = count(192, ge=8, le=MAX_CROP, description="null trains on full images (needs batch_size 1)")
    optimizer: Literal["adamw", "sgd"] = "adamw"
    lr: float = Field(1e-4, gt=0)
    weight_decay: float = Field(3e-4, ge=0)
    momentum: float = Field(0.9, ge=0, lt=1)
    schedule: Literal["constant", "cosine"] = "cosine"
    warmup_steps: int = count(0, ge=0)
    grad_clip: float = Field(5.0, gt=0)
    ema_decay: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="exponential moving average of the weights, "
        "validated and saved as model.pt (e.g. 0.999); 0 disables it",
    )
    amp: bool = Field(
        True,
        description="bfloat16 autocast of the network and the VGG/LPIPS loss terms where bfloat16 is native "
        "(CUDA; CPUs with AVX512-BF16 or AMX); float32 elsewhere",
    )
    channels_last: bool = True
    val_every: int = count(200)
    val_max_images: int | None = count(None, le=MAX_COUNT)
    checkpoint_every: int = count(200)
    log_every: int = count(20)

    @model_validator(mode="after")
    def _batch_is_bounded(self) -> TrainConfig:
        _batch_fits(self.batch_size, self.crop, "train")
        return self


class EvalConfig(Strict):
    """Evaluation protocol (docs/evaluation.md §4)."""

    y_channel: bool = False
    crop_border: int = count(0, ge=0, le=MAX_CROP)
    lpips_net: Literal["alex", "vgg"] = "alex"
    grid_images: int = count(4, ge=0, le=MAX_COUNT)


class EnhanceConfig(Strict):
    """Inference on photos of any size."""

    tile: int = count(512, ge=32, le=8192, description="tile side used above max_untiled_pixels")
    overlap: int = count(32, ge=0, le=MAX_CROP)
    max_untiled_pixels: int = count(1024 * 1024, le=2**28)
    norm_stats: Literal["global", "tile"] = Field(
        "global",
        description="tiled runs: instance-norm statistics from a downscaled copy of the whole "
        "image (global) or from each tile's own content (tile)",
    )
    backend: Literal["auto", "eager", "channels-last", "bf16", "compile", "onnx"] = Field(
        "auto",
        description="how the network runs: auto (the fastest backend whose output matches eager "
        "within 1e-3, or 0.02 on the clamped output for bf16; timed once per model and size class "
        "and cached; untimed for fewer than 4 images), or one by name",
    )
    precision: Literal["auto", "fp32"] = Field(
        "auto",
        description="auto: backend auto may run in bfloat16 where bf16 is native (CUDA, CPUs with "
        "AVX512-BF16/AMX) and the clamped output is within 0.02 of float32; fp32: full precision only",
    )
    threads: int | None = count(
        None, le=1024, description="CPU threads (default: torch's, i.e. the physical cores or OMP_NUM_THREADS)"
    )
