"""``hadamard-restore data ...``: check a dataset folder, make and verify pinned splits."""

from __future__ import annotations

from pathlib import Path

import typer

from hadamard_restore.cli.app import SetOption, config_or_fail, data_app, fail, guarded

LayoutOption = typer.Option(
    None, help="layout name (lol-v1, lol-v2, reside, uieb, lsui, euvp, paired); auto-detected when omitted"
)


@data_app.command("check")
def check(
    path: Path | None = typer.Argument(None, help="dataset root (default: data.root of --config)"),
    layout: str | None = LayoutOption,
    degraded_dir: str | None = typer.Option(None, help="degraded folder (layout paired), relative to PATH"),
    reference_dir: str | None = typer.Option(None, help="reference folder (layout paired), relative to PATH"),
    full: bool = typer.Option(False, "--full", help="decode every image (slower; finds corrupt pixel data)"),
    config: Path | None = typer.Option(
        None, "--config", "-c", help="YAML config: check the folder its data section reads (e.g. configs/custom.yaml)"
    ),
    set_: list[str] | None = SetOption,
) -> None:
    """Print the layout found, pair count, image sizes and every problem found (exit 1 on problems)."""
    from hadamard_restore.data.check import check_dataset  # lazy: start-up cost (torch, 4-5 s)

    if config is not None or set_:
        data = config_or_fail(config, set_).data
        if data.source != "folder":
            fail(f"data.source is {data.source!r}: the config reads no folder, so there is nothing to check")
        path = path if path is not None else data.root
        layout, degraded_dir, reference_dir = (
            layout or data.layout,
            degraded_dir or data.degraded_dir,
            reference_dir or data.reference_dir,
        )
    if path is None:
        fail("give the dataset folder: data check PATH (or --config FILE whose data.root names it)")
    report = guarded(lambda: check_dataset(path, layout, degraded_dir, reference_dir, full=full))
    typer.echo(report.format())
    if not report.ok:
        raise typer.Exit(1)


@data_app.command("split")
def split(
    path: Path = typer.Argument(..., help="dataset root"),
    out: Path = typer.Option(..., "--out", "-o", help="split file to write (JSON)"),
    layout: str | None = LayoutOption,
    degraded_dir: str | None = typer.Option(None, help="degraded folder (layout paired)"),
    reference_dir: str | None = typer.Option(None, help="reference folder (layout paired)"),
    val_ratio: float = typer.Option(0.2, help="share of pairs held out for validation"),
    seed: int = typer.Option(0, help="seed of the group order"),
    group_key: str = typer.Option("auto", help="auto (=reference_hash), reference_hash, scene, stem, none"),
) -> None:
    """Make a seeded train/validation split (whole groups on one side) and save it with sha256s."""
    from hadamard_restore.cli.preflight import split_preflight  # lazy: start-up cost (torch, 4-5 s)
    from hadamard_restore.data.layouts import layout_folders, match_folders  # lazy: start-up cost (torch, 4-5 s)
    from hadamard_restore.data.split import make_split  # lazy: start-up cost (torch, 4-5 s)

    def run():
        name, folders = layout_folders(path, layout, degraded_dir, reference_dir)
        pairs = [p for d, r in folders for p in match_folders(d, r)[0]]
        split_preflight(out, pairs)  # a writable --out, equal sizes in every pair
        result = make_split(pairs, val_ratio, seed, group_key, root=path, layout=name)
        result.save(out)
        return result

    result = guarded(run)
    groups = len({e.group for e in result.train + result.val})
    typer.echo(
        f"{out}: {len(result.train)} train / {len(result.val)} val pairs "
        f"({groups} groups by {result.group_key}, seed {seed})"
    )


@data_app.command("verify")
def verify(
    split_file: Path = typer.Argument(..., help="split JSON made by `data split`"),
    path: Path = typer.Argument(..., help="dataset root the split's names are relative to"),
) -> None:
    """Check that every file of a split exists under PATH with the recorded sha256."""
    from hadamard_restore.data.integrity import verify_split  # lazy: start-up cost (torch, 4-5 s)
    from hadamard_restore.data.split import Split  # lazy: start-up cost (torch, 4-5 s)

    def run():
        loaded = Split.load(split_file)
        verify_split(loaded, path)
        return loaded

    loaded = guarded(run)
    typer.echo(f"{split_file}: OK, {len(loaded.train)} train / {len(loaded.val)} val pairs match {path}")
