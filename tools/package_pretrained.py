"""Bundle a finished ``tools/make_pretrained.py`` run as a pretrained model, then render docs/models.md.

    python tools/package_pretrained.py /path/to/runs/low-light --name low-light
    python tools/package_pretrained.py --render-only          # docs/models.md from the cards

Writes ``src/hadamard_restore/resources/models/NAME/{model.pt, card.json, heldout.json}``
(fp16 weights when their output parity with fp32 holds within --tolerance on the first
held-out image, else fp32; held-out metrics with colour errors; the split's and the weights'
sha256; every command and the budget) and rewrites ``docs/models.md`` from all cards.
A bundled model of that name is replaced only by one with a higher held-out PSNR on the same
held-out pairs (``--replace-worse`` overrides), and its card moves into the new card's history.
A model that does not beat its input on every held-out pair is refused (``--accept-input-losses``
overrides).
The same run directory gives byte-identical files.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from hadamard_restore.artifacts import atomic_write_text  # noqa: E402
from hadamard_restore.errors import HadamardRestoreError  # noqa: E402


def render(models: Path, docs: Path) -> Path:
    import json

    from hadamard_restore.zoo.render import render_models_md

    cards = [json.loads(p.read_text()) for p in sorted(models.glob("*/card.json"))]
    return atomic_write_text(docs, render_models_md(cards))


def main(argv: list[str] | None = None) -> int:
    from hadamard_restore.zoo.registry import models_dir

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path, nargs="?", help="a finished make_pretrained.py run directory")
    ap.add_argument("--name", help="model name (low-light, dehaze, underwater)")
    ap.add_argument("--models", type=Path, default=models_dir(), help="models folder (default: the package's)")
    ap.add_argument("--docs", type=Path, default=REPO / "docs" / "models.md", help="Markdown page to render")
    ap.add_argument(
        "--data-root",
        type=Path,
        default=os.environ.get("HADAMARD_RESTORE_DATA"),
        help="the data folder (default: $HADAMARD_RESTORE_DATA)",
    )
    ap.add_argument(
        "--tolerance",
        type=float,
        default=1.0 / 255.0,
        help="largest fp16-vs-fp32 output difference for which fp16 weights are shipped (default 1/255)",
    )
    ap.add_argument(
        "--machine",
        help='what trained it, e.g. "GPU: NVIDIA H100 80GB" (default: RUN_DIR/machine.json, else this machine\'s CPU)',
    )
    ap.add_argument(
        "--replace-worse",
        action="store_true",
        help="replace a bundled model even if the new one does not score a higher held-out PSNR on the same "
        "held-out pairs (the old card still goes into the new card's history)",
    )
    ap.add_argument(
        "--accept-input-losses",
        action="store_true",
        help="package a model even if its output is no better than its input on some held-out pair "
        "(the bundled-model tests refuse such a model)",
    )
    ap.add_argument("--render-only", action="store_true", help="only rewrite --docs from the cards")
    args = ap.parse_args(argv)
    try:
        if not args.render_only:
            if args.run_dir is None or not args.name:
                ap.error("RUN_DIR and --name are needed (or --render-only)")
            from hadamard_restore.zoo.package import package_run

            folder = package_run(
                args.run_dir,
                args.name,
                args.models,
                args.data_root,
                args.tolerance,
                args.machine,
                replace_worse=args.replace_worse,
                accept_input_losses=args.accept_input_losses,
            )
            print(f"model: {folder}")
        print(f"docs: {render(args.models, args.docs)}")
    except HadamardRestoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    from hadamard_restore.runtime.log import configure_logging

    configure_logging()  # a script: its progress lines on stderr, as the CLI shows them
    sys.exit(main())
