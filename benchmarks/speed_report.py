"""Markdown rendering of :func:`benchmarks.speed.run`'s results."""

from __future__ import annotations

from datetime import datetime, timezone

from benchmarks.timing import markdown_table

SHARED_NOTE = (
    "The machine was shared with other jobs while this ran (several engineers' builds and tests on "
    "the same cores), so absolute times are noisy; the variants of each table were timed side by "
    "side in one process, interleaved round by round, so the ratios between rows of one table are "
    "the meaningful numbers."
)


def _ms(r: dict) -> str:
    return f"{r['median_s'] * 1e3:,.1f}"


def _iqr(r: dict) -> str:
    return f"{r['q1_s'] * 1e3:,.1f}-{r['q3_s'] * 1e3:,.1f}"


def _minmax(r: dict) -> str:
    return f"{r['min_s'] * 1e3:,.1f}-{r['max_s'] * 1e3:,.1f}"


def _timing_rows(rows: list, speed: list, ratio) -> list[list[str]]:
    """One table row per timed case: its ``|``-separated labels, median/IQR/min-max, and ``ratio(speed)``."""
    return [
        [*[c.strip() for c in r["case"].split("|")], _ms(r), _iqr(r), _minmax(r), ratio(speed[i]) if speed[i] else ""]
        for i, r in enumerate(rows)
    ]


def _wh(size) -> str:
    return f"{size[1]}x{size[0]}"


def _ratio(rows: list[dict], key_of, base_of) -> dict[int, float | None]:
    """For each row index: median of its baseline row / its median (x faster than the baseline)."""
    medians = {key_of(r): r["median_s"] for r in rows}
    return {
        i: (medians.get(base_of(r)) / r["median_s"]) if medians.get(base_of(r)) else None for i, r in enumerate(rows)
    }


def render(res: dict, shared: bool = True) -> str:
    m = res["machine"]
    when = res.get("measured") or datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        f"# Speed benchmark ({'GPU: ' + m['gpu'] if m.get('gpu', 'none') != 'none' else 'CPU'})",
        "",
        f"Measured (runs started) {when} with `{_command(res)}`.",
        "",
    ]
    out += [markdown_table(["machine", ""], [[k, v] for k, v in m.items()]), ""]
    if shared:
        out += [SHARED_NOTE, ""]
    out += [
        "Times are milliseconds per call: median, interquartile range (Q1-Q3) and min-max over the "
        "timed repeats, after warm-up.",
        "",
    ]
    if res["info"]:
        out += [
            "## Size and cost",
            "",
            "MACs: torch's FLOP counter (convolutions and matrix products) / 2, batch 1. Peak activations: "
            "live tensor storage of a no-grad float32 forward, batch 1.",
            "",
        ]
        rows = [
            [
                r["network"],
                _wh(r["size"]),
                f"{r['parameters']:,}",
                f"{r['macs'] / 1e9:,.2f}",
                f"{r['peak_activation_bytes'] / 2**20:,.1f}",
            ]
            for r in res["info"]
        ]
        out += [markdown_table(["network", "size (WxH)", "parameters", "GMACs", "peak activations (MiB)"], rows), ""]
    if res["inference"]:
        rows = res["inference"]
        speed = _ratio(
            rows,
            lambda r: (r["network"], tuple(r["size"]), r["variant"]),
            lambda r: (r["network"], tuple(r["size"]), "eager"),
        )
        batch = res["args"].get("batch", "1")
        out += [
            "## Inference",
            "",
            f"No-grad forward of the derived network, batch {batch}, float32 unless named. "
            "`x eager` is the eager median over this row's median (higher is faster).",
            "",
        ]
        table = [
            [
                r["network"],
                _wh(r["size"]),
                r["variant"],
                _ms(r),
                _iqr(r),
                _minmax(r),
                f"{r['images_per_s']:.3g}",
                f"{r['mpix_per_s']:.3g}",
                f"{speed[i]:.2f}" if speed[i] else "",
                f"{r['compile_s']:.0f}" if "compile_s" in r else "",
            ]
            for i, r in enumerate(rows)
        ]
        out += [
            markdown_table(
                [
                    "network",
                    "size (WxH)",
                    "variant",
                    "median ms",
                    "IQR ms",
                    "min-max ms",
                    "images/s",
                    "Mpixel/s",
                    "x eager",
                    "compile s",
                ],
                table,
            ),
            "",
        ]
    if res["train"]:
        rows = res["train"]
        r0 = rows[0]
        speed = _ratio(rows, lambda r: r["case"], lambda r: r["case"].rsplit("|", 1)[0] + "| eager")
        out += [
            "## Training step",
            "",
            f"One optimiser step (forward, loss, backward, clip, AdamW) on a {r0['batch']} x 3 x {r0['crop']} x "
            f"{r0['crop']} batch. The supernet runs every candidate op of every layer.",
            "",
        ]
        table = _timing_rows(rows, speed, lambda x: f"{x:.2f}")
        out += [markdown_table(["model", "loss", "variant", "median ms", "IQR ms", "min-max ms", "x eager"], table), ""]
    if res["search"]:
        rows = res["search"]
        r0 = rows[0]
        speed = _ratio(rows, lambda r: r["case"], lambda r: r["case"].split("|")[0] + "| first_order")
        out += [
            "## Search step",
            "",
            f"One bilevel step (hypergradient, Adam on the upper variables, SGD on the weights), batch "
            f"{r0['batch']}, {r0['crop']}x{r0['crop']} crops, supernet of the table above. "
            "`cost vs first order` is this row's median over the first-order median of the same stage.",
            "",
        ]
        table = _timing_rows(rows, speed, lambda x: f"{1 / x:.2f}x")
        out += [
            markdown_table(
                ["stage", "hypergradient", "median ms", "IQR ms", "min-max ms", "cost vs first order"], table
            ),
            "",
        ]
    if res["roofline"]:
        out += [
            "## GPU: achieved rates against published peaks",
            "",
            "FLOPs from the FLOP counter; bytes estimated as every op reading its inputs and writing its "
            "outputs once (no fusion), see benchmarks/roofline.py.",
            "",
        ]
        table = [
            [
                r["network"],
                _wh(r["size"]),
                r["variant"],
                f"{r['tflops']:.2f}",
                f"{r['flop_pct']:.1f}% of {r['peak']}" if r["flop_pct"] is not None else "peak unknown",
                f"{r['tbps']:.3f}",
                f"{r['bw_pct']:.1f}%" if r["bw_pct"] is not None else "peak unknown",
                f"{r['intensity']:.1f}" if r["intensity"] else "",
            ]
            for r in res["roofline"]
        ]
        out += [
            markdown_table(
                ["network", "size", "variant", "TFLOP/s", "of peak", "TB/s", "of peak bandwidth", "FLOP/byte"], table
            ),
            "",
        ]
    if res["notes"]:
        out += ["## Notes", ""] + [f"- **{k}**: {v}" for k, v in res["notes"].items()] + [""]
    return "\n".join(out)


def _command(res: dict) -> str:
    env = "OMP_NUM_THREADS={} PYTHONPATH=src ".format(res["machine"].get("OMP_NUM_THREADS", "unset"))
    parts = [p.strip() for p in (res.get("command") or "python -m benchmarks.speed").split(" ; then ") if p.strip()]
    return "` then `".join(env + p for p in parts)
