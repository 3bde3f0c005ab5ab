"""Produce one bundled pretrained model with the full method, resumably.

    python tools/make_pretrained.py low-light --out /work/pretrained-runs/low-light
    python tools/make_pretrained.py dehaze --out RUN_DIR --train-set train.steps=6000
    python tools/make_pretrained.py underwater --out RUN_DIR --search-set search.architecture=search

Stages (each one skipped when its artifact exists, so an interrupted run continues):

1. ``heldout.json``: the pinned split of the task's data (``data.val_ratio``, ``data.group_key``,
   seed 0). Its validation part is the model's **held-out test set**: nothing below reads it
   until the final evaluation.
2. ``dev.json``: the training part of (1), split again by whole groups into the pairs the model
   learns from and a development-validation part that picks the best checkpoint.
3. classifier -> loss search -> architecture search -> training, each a ``hadamard-restore``
   command reading ``dev.json`` only. The architecture search follows the task config's
   ``search.architecture`` and ``net.space``: underwater uses all-3c (stage 2 skipped; issue 24's study
   found the paper's search losing to it at the shipped recipe), low-light searches in the
   global-context space (which beat all-3c there), dehaze searches the paper's space.
   ``--search-set search.architecture=search`` (low-light: ``--search-set net.space=paper``) runs the
   paper's pipeline on any task. The searches run at ``search.upper_lr=0.01`` and training reads the
   searched loss weights with TV and Laplacian at 0 (``train_loss_weights.json``; the pipeline the
   studies measured); ``--keep-tv-laplacian`` trains with the searched file as it is.
4. ``evaluate`` on the held-out part of ``heldout.json``.

``--init-from MODEL`` fine-tunes the bundled model MODEL instead of searching (no classifier or search
stage): its card and weights are copied to ``RUN_DIR/source/``, and training starts from them with
their genotype, network and loss weights (``hadamard-restore train --init-from``). Refused unless
MODEL was held out on exactly this run's ``heldout.json`` (else it may have trained on this run's
test pairs). Training scores the source's weights before its first step, so ``train/model.pt`` is
never below them on the development-validation pairs.

The exact commands are written to ``commands.txt``, their wall times to ``timings.json`` and this
script's own invocation (with any ``--search-set`` and ``--train-set``) to ``reproduce.txt``; all go
into the model card.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from hadamard_restore.errors import HadamardRestoreError  # noqa: E402
from hadamard_restore.zoo.card import parse_commands  # noqa: E402

TASKS = {
    # low-light trains 1 x 128 px crops (the recipe study's measured recipe; the batch of 2 below had
    # never been measured on LOL, and at 109 training pairs more pixels overfit: the study's length
    # table) with resize-convolution up-samplers (no pixel-grid checkerboard, -0.16 dB on the
    # development pairs, 3 seeds). The bundled low-light model is this recipe's run; see its card.
    "low-light": {
        "config": "configs/low-light.yaml",
        "data": "lol-v1/our485",
        "train": ["train.batch_size=1", "net.upsample=resize"],
    },
    # dehaze: this command's run (upper_lr 0.01, TV/Laplacian off, 6000 steps) scored 22.28 dB on the 12
    # development-validation pairs against the bundled model's 22.79 (its pipeline: upper_lr 5e-4, TV and
    # Laplacian kept; its card's reproduce line) and was not shipped; one run each (docs/results.md).
    # Fine-tuning the bundled model (--init-from dehaze, lr 3e-4, 2000 steps) gained 0.29 dB on those pairs
    # and lost 0.39 held out: not shipped either
    "dehaze": {"config": "configs/dehaze.yaml", "data": "sots-indoor"},
    # underwater keeps the shared recipe: the low-light one (train.batch_size=1, 6000 steps) led on LSUI's
    # development pairs (18.47 against the bundled model's 17.52 dB) but not on its held-out pairs
    # (21.94 against 22.11; docs/results.md). The bundled model's own recipe is on its card.
    "underwater": {"config": "configs/underwater.yaml", "data": "lsui"},
}

# The budget (see the model cards): a 2-core CPU, one core per training.
SEARCH = [
    "net.channels=16",
    "classifier.arch=resnet18",  # the judge the bundled models were searched with
    "search.crop=64",
    "search.loss_steps=100",
    "search.arch_steps=200",
    "search.checkpoint_every=25",
    # the budget study's searches (benchmarks/studies/budget_presets.py), whose networks chose the defaults:
    # at the config's 5e-4 the 100 loss and 200 architecture steps leave beta within 0.04 of its start
    # (the bundled low-light model's beta: 0.97-1.00 on all eight terms), so the "searched" loss is equal
    # weights and the architecture a draw near the start; 0.01 lets beta and alpha move by about 1
    "search.upper_lr=0.01",
]
# net.norm=none: instance norm trained on 96-px crops normalises each crop to a typical exposure, and
# at full resolution its whole-image statistics leave outputs too dark (measured on the development
# pairs: 16.9 dB at full size vs 23.0 dB tile by tile for the same weights); see the model cards.
# Crops of 128 px and the weight average with warm-up: the recipe study (benchmarks/studies/recipe_study.py,
# development split only, 2 seeds) found 1 x 128 px crops 0.35 dB ahead of 4 x 64 px at the same pixels
# per step after 3000 steps (19.19 vs 18.85 dB raw, 19.21 vs 18.84 EMA), and the average steadier than
# the raw weights from one checkpoint to the next; a batch of 2 keeps about the pixels per step of the
# bundled models' 4 x 96 px.
# 3000 steps: run for 10000 the same recipe peaked on the development pairs at step 3000 and ended
# 0.36 dB lower than 3000-step runs on the same machine (2 seeds; the recipe study's length table): at
# 109-128 training pairs longer overfits.
TRAIN = [
    "net.channels=32",
    "net.norm=none",
    "train.steps=3000",
    "train.crop=128",
    "train.batch_size=2",
    "train.lr=1e-3",
    "train.warmup_steps=100",
    "train.schedule=cosine",
    "train.ema_decay=0.999",
    # model.pt is the final weights (the better of raw and average on every development-validation
    # pair), as in the budget study's cells: picking the best of many checkpoints on so few pairs
    # overfits them (on LOL, the raw weights of step 1000 chosen on 6 of the 19 pairs scored 18.13 dB
    # on all 19, the final weights 19.07 raw / 18.97 averaged). Validation runs only at the last step.
    "train.val_every=1000000",
    "train.val_max_images=null",
    "train.checkpoint_every=100",
]


TAIL_LINES = 15  # of a failed stage's log, shown in its error


class StageFailed(HadamardRestoreError):
    """One stage's command exited non-zero; the message names its log and how to continue."""


def hr() -> list[str]:
    return [str(Path(sys.executable).with_name("hadamard-restore"))]


def sets(items: list[str]) -> list[str]:
    return [arg for item in items for arg in ("--set", item)]


def recorded_commands(out: Path) -> dict[str, str]:
    """``{stage: command}`` from an earlier call's ``commands.txt``, plus its header lines under
    ``""`` (empty when there is none)."""
    path = out / "commands.txt"
    if not path.exists():
        return {}
    header, stages = parse_commands(path.read_text())
    return {**({"": header} if header else {}), **{name: command for name, command in stages if name}}


def stage(out: Path, name: str, argv: list[str], done: Path, log_lines: list[str], recorded: dict[str, str]) -> None:
    """Run one command unless ``done`` exists; record the command and its wall time.

    A stage done already keeps the command recorded when it ran, so calling the script again after
    the recipe changed never writes into ``commands.txt`` a command that did not produce the files.
    """
    shown = " ".join(shlex.quote(a) for a in ["hadamard-restore", *argv[1:]])
    if done.exists():
        shown = recorded.get(name, shown)
    log_lines.append(f"# {name}\n{shown}\n")
    (out / "commands.txt").write_text("\n".join(log_lines))
    if done.exists():
        print(f"[{name}] done already ({done})", flush=True)
        return
    print(f"[{name}] {shown}", flush=True)
    t0 = time.time()
    log_path = out / f"{name}.log"
    with open(log_path, "a") as fh:
        code = subprocess.run(argv, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO).returncode
    if code != 0:
        tail = log_path.read_text(errors="replace").splitlines()[-TAIL_LINES:]
        raise StageFailed(
            f"stage {name!r} failed (exit status {code}); the last lines of {log_path}:\n"
            + "\n".join(f"    {line}" for line in tail)
            + "\nFix the cause and run the same make_pretrained command again: finished stages are kept"
            + (" and training resumes from its last checkpoint." if name == "train" else ".")
        )
    timings_path = out / "timings.json"
    timings = json.loads(timings_path.read_text()) if timings_path.exists() else {}
    timings[name] = timings.get(name, 0.0) + round(time.time() - t0, 1)
    timings_path.write_text(json.dumps(timings, indent=2))


def make_splits(task: str, cfg_path: Path, root: Path, out: Path) -> None:
    from hadamard_restore.config import load_config
    from hadamard_restore.data.split import Split, development_split, make_split
    from hadamard_restore.data.task_data import dataset_pairs

    cfg = load_config(cfg_path)
    if not (out / "heldout.json").exists():
        _, layout, pairs = dataset_pairs(cfg.data, cfg.seed)
        make_split(pairs, cfg.data.val_ratio, 0, cfg.data.group_key, root=root, layout=layout).save(
            out / "heldout.json"
        )
    if not (out / "dev.json").exists():
        note = f"development split of the training part of heldout.json ({task})"
        development_split(Split.load(out / "heldout.json"), note).save(out / "dev.json")


def check_overrides(cfg_path: Path, search_set: list[str], train_set: list[str]) -> tuple[str, ...]:
    """Refuse a bad ``--search-set``/``--train-set`` before any stage runs (a typo would otherwise
    surface only when its stage starts, possibly hours in), with the config's own error. Returns the
    training config's ``loss.searched_without``: the searched terms training sets to 0 (TV and
    Laplacian, as the authors' final training, stage 2 and every study cell)."""
    from hadamard_restore.config import load_config
    from hadamard_restore.losses.loss_weights import check_loss_names

    load_config(cfg_path, SEARCH + search_set)
    without = load_config(cfg_path, TRAIN + train_set).loss.searched_without
    check_loss_names(without, "loss.searched_without")
    return tuple(without)


def reproducing_command(
    task: str,
    search_set: list[str],
    train_set: list[str],
    keep_tv_laplacian: bool = False,
    init_from: str | None = None,
) -> str:
    """This script's invocation as the model card shows it (``RUN_DIR`` for the output folder)."""
    overrides = [f"--init-from {shlex.quote(init_from)}"] if init_from else []
    overrides += [f"--search-set {shlex.quote(item)}" for item in search_set]
    overrides += [f"--train-set {shlex.quote(item)}" for item in train_set]
    overrides += ["--keep-tv-laplacian"] if keep_tv_laplacian else []
    return " ".join(["python tools/make_pretrained.py", task, "--out RUN_DIR", *overrides])


def fine_tune_source(name: str, task: str, out: Path) -> Path:
    """Copy bundled model ``name``'s card and weights to ``out/source/`` (once; sha256 checked) and
    return the weights' path there. Refused when ``name`` is another task's model or was held out on
    other pairs than ``out/heldout.json``: it may have been trained on this run's test pairs."""
    from hadamard_restore.artifacts import atomic_write_bytes, atomic_write_text, sha256_file
    from hadamard_restore.zoo.registry import model_path, read_card

    card = read_card(name)
    if card["task"] != task:
        raise HadamardRestoreError(f"--init-from {name}: that model restores {card['task']}, not {task}")
    held = sha256_file(out / "heldout.json")
    if card["data"]["split"]["sha256"] != held:
        raise HadamardRestoreError(
            f"--init-from {name}: the bundled model was held out on other pairs (split sha256 "
            f"{card['data']['split']['sha256'][:12]}, this run's heldout.json {held[:12]}), so it may have "
            "trained on this run's held-out pairs; fine-tune it only in a run with its own heldout.json"
        )
    source = out / "source"
    weights = source / "model.pt"
    if not weights.is_file():  # the weights are written last: an interrupted copy is redone whole
        source.mkdir(exist_ok=True)
        atomic_write_text(source / "card.json", json.dumps(card, indent=2) + "\n")
        atomic_write_bytes(weights, model_path(name).read_bytes())  # model_path verified its sha256
    if sha256_file(weights) != card["weights"]["sha256"]:
        raise HadamardRestoreError(
            f"{weights} is not the bundled {name} model's weights (sha256 differs); remove {source} and run again"
        )
    return weights


def training_loss_weights(out: Path, without: tuple[str, ...]) -> Path:
    """The loss weights the training stage reads: the searched ones, or the searched ones with
    ``without`` set to 0, written once beside them as ``train_loss_weights.json``."""
    searched = out / "search" / "loss_weights.json"
    if not without:
        return searched
    from hadamard_restore.losses.loss_weights import load_loss_weights

    derived = out / "train_loss_weights.json"
    if not derived.exists():  # a pure function of the search's file: an interrupted run finds the same
        load_loss_weights(searched).derived_without(*without).save(derived)
    return derived


def search_stages(
    out: Path, cfg: Path, dev: list[str], search_set: list[str], lines: list[str], recorded: dict
) -> None:
    """Stages 1-2: the classifier, then the loss and architecture search (each skipped when done)."""
    stage(
        out,
        "classifier",
        [*hr(), "classifier", str(cfg), *sets(dev + SEARCH + search_set), "--out", str(out / "classifier")],
        out / "classifier" / "classifier.pt",
        lines,
        recorded,
    )
    clf = [f"classifier.checkpoint={out / 'classifier' / 'classifier.pt'}"]
    search_cmd = [*hr(), "search", str(cfg), *sets(dev + SEARCH + search_set + clf), "--out", str(out / "search")]
    if (out / "search").exists():
        search_cmd.append("--resume")
    stage(out, "search", search_cmd, out / "search" / "genotype.json", lines, recorded)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("task", choices=sorted(TASKS))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument(
        "--data", type=Path, default=Path(os.environ.get("HADAMARD_RESTORE_DATA", REPO.parent / "shared/data"))
    )
    ap.add_argument("--stop-after", choices=["search", "train"], help="stop after this stage")
    ap.add_argument(
        "--train-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one training setting after the recipe's (e.g. train.steps=6000); repeatable",
    )
    ap.add_argument(
        "--search-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one setting of the classifier and search stages after the recipe's "
        "(e.g. search.architecture=search for the paper's architecture search); repeatable",
    )
    ap.add_argument(
        "--keep-tv-laplacian",
        action="store_true",
        help="train with the searched TV and Laplacian weights (default: 0, the config's loss.searched_without, "
        "as the authors' final training and the studies)",
    )
    ap.add_argument(
        "--init-from",
        metavar="MODEL",
        help="fine-tune the bundled model MODEL of this task (no classifier or search stage; it trains with "
        "MODEL's genotype, network and loss weights), e.g. --init-from dehaze --train-set train.lr=3e-4",
    )
    args = ap.parse_args()
    if args.init_from and (args.search_set or args.keep_tv_laplacian):
        ap.error(
            "--init-from searches nothing and trains with the model's own loss weights: "
            "drop --search-set and --keep-tv-laplacian"
        )
    spec = TASKS[args.task]
    out = args.out.resolve()
    os.environ["HADAMARD_RESTORE_DATA"] = str(args.data.resolve())
    cfg = REPO / spec["config"]
    train_set = [*spec.get("train", []), *args.train_set]  # the task's recipe, then the user's overrides
    searched_without = check_overrides(cfg, args.search_set, train_set)
    out.mkdir(parents=True, exist_ok=True)
    root = args.data.resolve() / spec["data"]
    make_splits(args.task, cfg, root, out)
    invocation = reproducing_command(args.task, args.search_set, args.train_set, args.keep_tv_laplacian, args.init_from)
    first = out / "reproduce.txt"  # the card's one reproducing command: the call that started the run
    if not first.exists():
        first.write_text(invocation + "\n")
    elif first.read_text().strip() != invocation:
        print(f"note: this run was started as `{first.read_text().strip()}`; its record is kept", flush=True)
    dev = [f"data.split_file={out / 'dev.json'}"]
    recorded = recorded_commands(out)  # read before the first stage rewrites the file
    lines: list[str] = [
        recorded.get("")
        or f"# data: {root}\n# held-out split: {out / 'heldout.json'}; development split: {out / 'dev.json'}\n"
    ]
    if args.init_from:
        start = ["--init-from", str(fine_tune_source(args.init_from, args.task, out))]
    else:
        search_stages(out, cfg, dev, args.search_set, lines, recorded)
        if args.stop_after == "search":
            return
        weights = training_loss_weights(out, () if args.keep_tv_laplacian else searched_without)
        start = ["--genotype", str(out / "search" / "genotype.json"), "--loss-weights", str(weights)]
    train_cmd = [*hr(), "train", str(cfg), *start, *sets(dev + TRAIN + train_set), "--out", str(out / "train")]
    if (out / "train" / "last.pt").exists():
        train_cmd.append("--resume")
    stage(out, "train", train_cmd, out / "train" / "train_summary.json", lines, recorded)
    if args.stop_after == "train":
        return
    stage(
        out,
        "evaluate",
        [
            *hr(),
            "evaluate",
            str(out / "train" / "model.pt"),
            "--data",
            str(root),
            "--split",
            str(out / "heldout.json"),
            "--out",
            str(out / "eval"),
        ],
        out / "eval" / "metrics.json",
        lines,
        recorded,
    )
    print(f"done: {out / 'eval' / 'metrics.json'}", flush=True)


if __name__ == "__main__":
    from hadamard_restore.runtime.log import configure_logging

    configure_logging()  # a script: its progress lines on stderr, as the CLI shows them
    try:
        main()
    except HadamardRestoreError as exc:  # a failed stage, or bad data for the splits: one line, no traceback
        sys.exit(f"error: {exc}")
