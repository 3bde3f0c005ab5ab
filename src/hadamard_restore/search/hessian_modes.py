"""The three ways to take the hypergradient (``search.hessian``) and which stage may use which.

See :mod:`hadamard_restore.search.hypergrad` (which re-exports :func:`check_mode`) for what each
mode computes.
"""

from __future__ import annotations

from typing import Literal

from hadamard_restore.config import ConfigError

Mode = Literal["finite_difference", "exact", "first_order"]
MODES: tuple[str, ...] = ("finite_difference", "exact", "first_order")


def check_mode(mode: str, stage: str) -> None:
    """Refuse hypergradient modes that are wrong for a stage, saying why.

    Args:
        mode: one of ``finite_difference``, ``exact``, ``first_order``.
        stage: ``loss`` (stage 1), ``arch`` (stage 2) or ``joint``.

    Raises:
        ConfigError: unknown mode, or ``first_order`` for a stage whose upper objective does
            not contain the upper variables directly (``loss``; ``joint`` for its β part).
    """
    if mode not in MODES:
        raise ConfigError(f"search.hessian={mode!r} is unknown; use one of {', '.join(MODES)}")
    if mode == "first_order" and stage in ("loss", "joint"):
        raise ConfigError(
            "search.hessian=first_order cannot search loss weights: the stage-1 objective "
            "(the classifier's cross-entropy of 'clear' on the outputs, L_Cval) does not depend "
            "on beta or the VGG logits directly, so a first-order hypergradient gives them exactly "
            "zero gradient (docs/method.md 6.3). Use search.hessian=finite_difference (the paper's "
            "code) or exact; first_order is allowed for the architecture stage only."
        )
