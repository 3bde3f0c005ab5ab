"""Markdown for :mod:`benchmarks.gpu_check`'s results (``speed-gpu.md``)."""

from __future__ import annotations

import json

from benchmarks.timing import markdown_table

GOALS = {
    "train": ("item 4: training step >= 4x eager at batch 16 x 256 px", 4.0),
    "infer": ("item 5: a 1920x1080 frame in <= 3 ms", 3.0),
    "search": ("item 6: second-order search step <= 3x a supernet training step", 3.0),
}


def _f(x, nd: int = 2) -> str:
    return "" if x is None else f"{x:,.{nd}f}" if isinstance(x, float) else str(x)


def _timing_table(rows: dict, ratio_key: str = "x_eager", ratio_name: str = "x eager") -> list[str]:
    table = [
        [k, _f(r["median_ms"]), f"{_f(r['q1_ms'])}-{_f(r['q3_ms'])}", r["n"], _f(r.get(ratio_key))]
        for k, r in rows.items()
    ]
    return [markdown_table(["variant", "median ms", "IQR ms", "n", ratio_name], table), ""]


def _best(rows: dict, key: str = "x_eager") -> tuple[str, float] | None:
    cands = [(k, r[key]) for k, r in rows.items() if r.get(key)]
    return max(cands, key=lambda kv: kv[1]) if cands else None


def _goals(parts: dict, dry: bool) -> list[str]:
    lines = ["## Goals of the speed issue", ""]
    if dry:
        lines += ["Not judged in a dry run (toy sizes on a CPU); the lines below only show the wiring.", ""]
    train = {
        **parts.get("train", {}).get("data", {}).get("phase 1", {}),
        **parts.get("train", {}).get("data", {}).get("phase 2", {}),
    }
    best = _best({k: v for k, v in train.items() if k != "eager"})
    lines.append(
        f"- {GOALS['train'][0]}: "
        + (
            f"best {best[1]:.2f}x ({best[0]}): {'MET' if best[1] >= GOALS['train'][1] else 'not met'}"
            if best
            else "not measured"
        )
    )
    infer = {
        **parts.get("infer", {}).get("data", {}).get("phase 1", {}),
        **parts.get("infer", {}).get("data", {}).get("phase 2", {}),
    }
    fastest = min(infer.items(), key=lambda kv: kv[1]["median_ms"]) if infer else None
    lines.append(
        f"- {GOALS['infer'][0]}: "
        + (
            f"fastest {fastest[1]['median_ms']:.2f} ms ({fastest[0]}): "
            f"{'MET' if fastest[1]['median_ms'] <= GOALS['infer'][1] else 'not met'}"
            if fastest
            else "not measured"
        )
    )
    steps = parts.get("search", {}).get("data", {}).get("steps", {})
    second = {
        k: r["x_train_step"]
        for k, r in steps.items()
        if r.get("x_train_step") and "first_order" not in k and "training step" not in k
    }
    worst = max(second.items(), key=lambda kv: kv[1]) if second else None
    lines.append(
        f"- {GOALS['search'][0]}: "
        + (
            f"worst {worst[1]:.2f}x ({worst[0]}): {'MET' if worst[1] <= GOALS['search'][1] else 'not met'}"
            if worst
            else "not measured"
        )
    )
    return lines + [""]


def _env(d: dict) -> list[str]:
    m, pub = d.get("measured", {}), d.get("published_peaks") or {}
    rows = [
        ["matmul (bf16 on GPU)", _f(m.get("matmul_tflops")), "TFLOP/s", _f(pub.get("bf16", 0) / 1e12 or None, 0)],
        ["3x3 conv, channels-last", _f(m.get("conv_tflops")), "TFLOP/s", _f(pub.get("bf16", 0) / 1e12 or None, 0)],
        [
            "device copy (read + write)",
            _f(m.get("copy_tbps"), 3),
            "TB/s",
            _f(pub.get("bandwidth", 0) / 1e12 or None, 2),
        ],
    ]
    return [
        "## Device: measured rates against published peaks",
        "",
        markdown_table(["kernel", "measured", "unit", "published dense peak"], rows),
        "",
    ]


def render(res: dict) -> str:
    parts = res["parts"]
    env = parts.get("env", {}).get("data", {})
    title = env.get("gpu") or "no GPU"
    out = [f"# GPU check: {title}", ""]
    if res.get("dry_run"):
        out += [
            "**DRY RUN on the CPU at toy sizes** (`--dry-run`): this checks that the script runs; "
            "no number here is a GPU measurement.",
            "",
        ]
    out += [f"Sizes: `{json.dumps(res.get('sizes', {}))}`.", ""]
    if env.get("machine"):
        out += [markdown_table(["machine", ""], [[k, v] for k, v in env["machine"].items()]), ""]
    out += [
        "## Parts",
        "",
        markdown_table(
            ["part", "status", "seconds", "error"],
            [[k, v.get("status"), v.get("seconds", ""), v.get("error") or ""] for k, v in parts.items()],
        ),
        "",
    ]
    out += _goals(parts, bool(res.get("dry_run")))
    if env.get("measured"):
        out += _env(env)
    corr = parts.get("correct", {}).get("data", {})
    for key, val in corr.items():
        out += [f"## Correctness: {key}", "", markdown_table(["check", "value"], [[k, v] for k, v in val.items()]), ""]
    ddp = parts.get("ddp", {}).get("data", {}).get("torchrun")
    if ddp:
        out += [
            "## DDP smoke (torchrun, one process, multi-process code path)",
            "",
            markdown_table(["check", "value"], [[k, v] for k, v in ddp.items()]),
            "",
        ]
    for name, title_ in (
        ("train", "Item 4: training step"),
        ("infer", "Item 5: inference"),
        ("search", "Item 6: search step"),
    ):
        d = parts.get(name, {}).get("data", {})
        if not d:
            continue
        out += [f"## {title_}", "", f"Shape: {d.get('shape', '')}.", ""]
        for phase in ("phase 1", "phase 2"):
            if d.get(phase):
                out += [f"{phase} (timed side by side, interleaved):", ""] + _timing_table(d[phase])
        if d.get("steps"):
            out += _timing_table(d["steps"], "x_train_step", "cost in supernet training steps")
        if d.get("compile_s") is not None:
            out += [f"First compiled call (compile time): {d['compile_s']:.1f} s.", ""]
        par = {
            **d.get("parity vs fp32 eager", {}),
            **({"compile": d["parity compile"]} if "parity compile" in d else {}),
        }
        if par:
            out += [
                "Output parity against fp32 eager (outputs clamped to [0, 1]):",
                "",
                markdown_table(
                    ["variant", "max abs diff", "PSNR dB"],
                    [[k, f"{v['max_abs']:.2e}", _f(v["psnr_db"], 1)] for k, v in par.items()],
                ),
                "",
            ]
        if d.get("roofline"):
            out += [
                "Achieved rates (FLOPs from the counter, bytes unfused, benchmarks/roofline.py):",
                "",
                markdown_table(
                    ["variant", "TFLOP/s", "% of peak", "TB/s", "% of bandwidth"],
                    [
                        [k, _f(r["tflops"], 3), _f(r["flop_pct"], 1), _f(r["tbps"], 3), _f(r["bw_pct"], 1)]
                        for k, r in d["roofline"].items()
                    ],
                ),
                "",
            ]
    notes = [f"- **{p} | {k}**: {v}" for p, r in parts.items() for k, v in r.get("notes", {}).items()]
    if notes:
        out += ["## Notes", ""] + notes + [""]
    return "\n".join(out)
