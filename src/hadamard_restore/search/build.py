"""Building blocks the stages share: process setup, the searched models, closures, log scalars.

Models are evaluated at explicit parameter sets through :func:`forward`
(``torch.func.functional_call``), which is what lets one hypergradient function serve every
stage without copying models.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping

import torch
from torch import Tensor
from torch.func import functional_call

from hadamard_restore.artifacts import atomic_write_text
from hadamard_restore.config import RunConfig, dump_config
from hadamard_restore.runtime import Dist, get_logger, init_distributed, pick_device, seed_everything
from hadamard_restore.search import ddp

log = get_logger("hadamard_restore.search")


def setup(cfg: RunConfig) -> tuple[torch.device, Dist]:
    """Pick the device, join the torchrun process group if any, seed the global RNGs.

    Under torchrun each rank uses ``cuda:LOCAL_RANK`` (or the CPU with gloo).
    """
    device = pick_device(cfg.device)
    dist_ctx = init_distributed(device)
    if device.type == "cuda" and dist_ctx.enabled:
        device = torch.device("cuda", dist_ctx.local_rank)
        torch.cuda.set_device(device)
    seed_everything(cfg.seed)
    return device, dist_ctx


def prepare_run_dir(cfg: RunConfig, out: Path | None, stage: str, resume: bool, dist_ctx: Dist) -> Path:
    """The run directory: ``out``, or a new ``<out_dir>/<name>-<stage>-<UTC time>``.

    With ``resume`` and no ``out``, the newest existing ``<name>-<stage>-*`` directory is used.
    Rank 0 decides and every rank receives its choice; only rank 0 writes ``config.yaml``.
    """
    from hadamard_restore.errors import CheckpointError

    choice: str | None = None
    if dist_ctx.is_main:
        if out is None and resume:
            found = sorted(Path(cfg.out_dir).glob(f"{cfg.name}-{stage}-*"))
            choice = str(found[-1]) if found else (
                f"ERROR:--resume found no earlier run {cfg.out_dir}/{cfg.name}-{stage}-*; "
                "pass --out RUN_DIR or start without --resume")
        elif out is None:
            stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
            choice = str(Path(cfg.out_dir) / f"{cfg.name}-{stage}-{stamp}")
        else:
            choice = str(out)
        choice = _claim(choice)
    chosen = ddp.gather_objects(choice, dist_ctx)[0]
    if chosen.startswith("ERROR:"):
        raise CheckpointError(chosen[len("ERROR:"):])
    run_dir = Path(chosen)
    if dist_ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_dir / "config.yaml", dump_config(cfg))
    ddp.barrier(dist_ctx)
    return run_dir


def _claim(choice: str) -> str:
    """Lock the chosen run directory for this command (run_session); an error travels to every rank."""
    from hadamard_restore.errors import HadamardRestoreError
    from hadamard_restore.run_session import claim_run_dir

    if choice.startswith("ERROR:"):
        return choice
    try:
        claim_run_dir(choice)
    except HadamardRestoreError as exc:
        return f"ERROR:{exc}"
    return choice


def forward(model: torch.nn.Module, params: Mapping[str, Tensor], x: Tensor) -> Tensor:
    """``model(x)`` with the named parameters replaced by ``params`` (others as they are)."""
    return functional_call(model, dict(params), (x,))


def supernet(cfg: RunConfig, norm: str, device: torch.device, alpha: Mapping[str, Tensor] | None = None):
    """A supernet of the config's size, weights and α seeded from ``cfg.seed``.

    Args:
        norm: ``instance`` (stage 1, joint) or ``none`` (stage 2), method.md 1.4.
        alpha: ``{group: logits}`` to start from (a previous round's α), else the 1e-3·N(0,1) init.
    """
    from hadamard_restore.net.build import build_supernet

    net = build_supernet(cfg.net, norm=norm, generator=torch.Generator().manual_seed(cfg.seed))
    if alpha is not None:
        with torch.no_grad():
            for g, a in alpha.items():
                net.arch[g].copy_(a)
    return net.to(device)


def loss_model(cfg: RunConfig, device: torch.device, alpha: Mapping[str, Tensor] | None = None):
    """The network whose loss is searched in stage 1 and its lower-level weights by name.

    ``cfg.search.loss_model``: ``supernet`` (α frozen at its init or at ``alpha``, instance norm)
    or ``unet`` (the bundled small U-Net; every parameter is a weight).
    """
    if cfg.search.loss_model == "unet":
        from hadamard_restore.net.unet import UNet

        net = UNet(generator=torch.Generator().manual_seed(cfg.seed)).to(device)
        return net, dict(net.named_parameters())
    net = supernet(cfg, "instance", device, alpha)
    net.freeze_arch(True)
    return net, dict(net.named_weights())


def alpha_state(net) -> dict[str, Tensor]:
    """``{group: α logits}`` (detached CPU copies) of a supernet."""
    return {g: a.detach().cpu().clone() for g, a in net.arch.items()}


def describe_alpha(net) -> dict[str, float]:
    """Per searched layer: the entropy of softmax(α) (nats) and its largest probability."""
    out: dict[str, float] = {}
    ent_sum, n = 0.0, 0
    for label, probs in net.probabilities().items():
        p = torch.tensor(probs, dtype=torch.float64)
        ent = float(-(p * p.clamp_min(1e-30).log()).sum())
        out[f"alpha_entropy/{label}"] = ent
        out[f"alpha_max/{label}"] = float(p.max())
        ent_sum, n = ent_sum + ent / math.log(len(probs)), n + 1
    out["alpha/mean_normalised_entropy"] = ent_sum / max(n, 1)
    return out
