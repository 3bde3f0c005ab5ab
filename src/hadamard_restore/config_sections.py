"""The sections of a run's configuration (``data``, ``classifier``, ``net``, ``loss``, ``search``,
``train``, ``eval``, ``enhance``): pydantic v2 models whose fields carry defaults, bounds and help.

:class:`~hadamard_restore.config.RunConfig` gathers them; every section forbids unknown keys, so a
typo fails loudly instead of being ignored. Import them from :mod:`hadamard_restore.config`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Task = Literal["low-light", "dehaze", "underwater", "custom"]


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

    arch: Literal["resnet18", "resnet50", "vgg16-features", "alexnet-features"] = Field(
        "vgg16-features",
        description="resnet*: the paper's ResNet; *-features: frozen ImageNet trunk + trained head (the default: "
        "it judged best on LOL, SOTS and LSUI, benchmarks/results/judge-accuracy.md)",
    )
    pretrained: bool = Field(True, description="ImageNet trunk when cached (a *-features arch requires it)")
    steps: int = Field(300, ge=1)
    batch_size: int = Field(16, ge=1)
    crop: int | None = Field(None, ge=16, description="training crop side; null: search.crop (the size stage 1 judges)")
    scale_jitter: float = Field(0.0, ge=0, lt=1, description="each step's crop side is uniform in crop*(1 +- jitter)")
    lr: float = Field(1e-4, gt=0, description="Adam lr of a resnet* judge (the whole network)")
    head_lr: float = Field(1e-3, gt=0, description="Adam lr of a *-features judge's head (its trunk is frozen)")
    weight_decay: float = Field(1e-4, ge=0)
    checkpoint: Path | None = Field(None, description="use this trained classifier instead of training one")
    eval_crop: int | None = Field(None, ge=16, description="side of the held-out windows judged; null: search.crop")
    eval_crops_per_image: int = Field(4, ge=1, description="random held-out windows per image")

    @model_validator(mode="after")
    def _feature_trunk_is_pretrained(self) -> ClassifierConfig:
        if self.arch.endswith("-features") and not self.pretrained:
            raise ValueError(
                f"arch {self.arch} judges with a frozen ImageNet trunk and cannot start from scratch; "
                "set classifier.pretrained=true (and run `hadamard-restore weights install`) or use arch resnet18"
            )
        return self


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
    amp: bool = Field(
        True,
        description="bfloat16 autocast of the network and the VGG/LPIPS loss terms where bfloat16 is native "
        "(CUDA; CPUs with AVX512-BF16 or AMX); float32 elsewhere",
    )
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
    threads: int | None = Field(
        None, ge=1, description="CPU threads (default: torch's, i.e. the physical cores or OMP_NUM_THREADS)"
    )
