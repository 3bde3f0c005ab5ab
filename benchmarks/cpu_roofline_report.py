"""Markdown of the CPU roofline result (:mod:`benchmarks.cpu_roofline`): tables and what they say."""

from __future__ import annotations

from benchmarks.timing import markdown_table

HEADER = [
    "path",
    "peak used",
    "median ms [IQR]",
    "GFLOP",
    "MB moved (est.)",
    "GFLOP/s",
    "% of peak",
    "GB/s",
    "% of bandwidth",
    "FLOP/B",
    "balance FLOP/B",
    "bound",
    "% of roofline",
]


def _row(r: dict) -> list[str]:
    return [
        r["path"],
        r["precision"],
        f"{r['seconds'] * 1e3:,.1f} [{r['q1'] * 1e3:,.1f}-{r['q3'] * 1e3:,.1f}]",
        f"{r['flops'] / 1e9:,.2f}",
        f"{r['bytes'] / 1e6:,.0f}",
        f"{r['gflops']:,.1f}",
        f"{r['pct_peak']:.1f}",
        f"{r['gbps']:,.1f}",
        f"{r['pct_bw']:.1f}",
        f"{r['intensity']:.1f}",
        f"{r['balance']:.1f}",
        r["bound"],
        f"{r['pct_roof']:.1f}",
    ]


def _ceiling_table(res: dict) -> str:
    rows = []
    for name, c in res["peaks"]["cases"].items():
        unit = "GB/s" if c["kind"] == "bandwidth" else "GFLOP/s"
        rows.append([name, c["kind"], f"{c['seconds'] * 1e3:,.2f}", f"{c['rate'] / 1e9:,.1f} {unit}"])
    return markdown_table(["ceiling case", "kind", "median ms", "rate"], rows)


def _path_line(r: dict) -> str:
    side = "below" if r["bound"] == "memory" else "above"
    roof = r["pct_roof"]
    gap = (
        f"{100 / roof:.1f}x below the roof"
        if 0 < roof <= 100
        else "above the roof: the ceiling cases did not reach this precision's true peak, or the unfused byte "
        "count overstates what this path moves"
    )
    return (
        f"- **{r['path']}**: {r['gflops']:,.1f} GFLOP/s = {r['pct_peak']:.1f}% of the {r['precision']} peak, "
        f"{r['gbps']:,.1f} GB/s = {r['pct_bw']:.1f}% of the bandwidth; intensity {r['intensity']:.1f} FLOP/B "
        f"is {side} the balance {r['balance']:.1f}, so the roofline calls it {r['bound']}-bound, and it runs at "
        f"{roof:.1f}% of its attainable {r['attainable_gflops']:,.1f} GFLOP/s ({gap})."
    )


def _profile_text(res: dict) -> str:
    p, bal = res["profile"], res["balance"]["fp32"]
    h, w = res["sizes"]["image_hw"]
    med = p["conv_intensity_median"]
    if med is None:
        return ""
    net = p["conv_flops"] / max(1, p["conv_bytes"] + p["other_bytes"])
    text = (
        f"Where the bytes go (one fp32 forward at {w}x{h}, unfused estimate): the {p['convolutions']} "
        f"convolutions do all the counted FLOPs but move only {100 * p['conv_bytes_share']:.0f}% of the bytes; "
        f"their per-layer intensity is {med:.1f} FLOP/B at the median (range {p['conv_intensity_min']:.1f}-"
        f"{p['conv_intensity_max']:.1f}) against an fp32 machine balance of {bal:.1f}. The other "
        f"{100 - 100 * p['conv_bytes_share']:.0f}% of the bytes are element-wise ops (normalisation, activations, "
        "the HNU's sigmoid and division, padding, residual adds) that count no FLOPs: the network keeps "
        "many-channel feature maps at full resolution and every such op streams one through memory once more, "
        f"which pulls the whole network's intensity down to {net:.1f} FLOP/B. "
    )
    if net < bal:
        return text + "That is below the balance: the roof that applies is the bandwidth line, not the FLOP peak."
    return text + (
        "That is still above the balance, so by the roofline the network could run near the FLOP peak; "
        "the distance to it is lost in the kernels (see below), not to DRAM bandwidth."
    )


def _closing(rows: list[dict]) -> list[str]:
    far = [r for r in rows if r["pct_roof"] < 50]
    if not far:
        return ["Every path runs within 2x of its roof: what remains is mostly the ceiling itself.", ""]
    return [
        f"{len(far)} of {len(rows)} paths run below half of their roof (the best: "
        f"{max(rows, key=lambda r: r['pct_roof'])['path']}). Such a path is limited by neither ceiling but by "
        "what lies between, most likely small-channel convolutions that fill the vector units poorly (the "
        "peaks come from 2048-wide products and 64-channel convolutions) and the per-op overhead and cache "
        "misses of many short element-wise passes. The headroom is in fewer, fused passes over the feature "
        "maps (the element-wise ops folded into the convolutions, as ONNX Runtime partly does) and in lower "
        "precision (bf16 halves every byte moved) rather than in the FLOP peak.",
        "",
    ]


def _explanation(res: dict) -> list[str]:
    rows = res["inference"] + res["train"]
    lines = ["## What it says", ""]
    lines += ["How far each path is from its ceiling:", ""] + [_path_line(r) for r in rows] + [""]
    return lines + [_profile_text(res), ""] + (_closing(rows) if rows else [])


def render(res: dict) -> str:
    """The Markdown page: machine, ceilings, achieved rates, explanation and method notes."""
    peaks, bal = res["peaks"], res["balance"]
    h, w = res["sizes"]["image_hw"]
    b, c = res["sizes"]["batch"], res["sizes"]["crop"]
    lines = [
        "# CPU roofline: measured ceilings beside achieved rates",
        "",
        f"`{res['command']}`" + (" (**--quick: toy sizes, not a result**)" if res.get("quick") else ""),
        "",
        markdown_table(["machine", ""], [[k, v] for k, v in res["machine"].items()]),
        "",
        "## Ceilings (measured on this CPU)",
        "",
        _ceiling_table(res),
        "",
        f"Peaks: fp32 {peaks['fp32'] / 1e9:,.1f} GFLOP/s, bf16 {peaks['bf16'] / 1e9:,.1f} GFLOP/s, "
        f"bandwidth {peaks['bandwidth'] / 1e9:,.1f} GB/s; machine balance fp32 {bal['fp32']:.1f} FLOP/B, "
        f"bf16 {bal['bf16']:.1f} FLOP/B.",
        "",
        f"## Inference: bundled low-light model, {w}x{h}, batch 1",
        "",
        markdown_table(HEADER, [_row(r) for r in res["inference"]]),
        "",
        f"## Training step: same network, {res.get('loss', 'paper-lol')} loss mix, batch {b} x {c} px",
        "",
        markdown_table(HEADER, [_row(r) for r in res["train"]]),
        "",
        *_explanation(res),
        "## Method",
        "",
        "- FLOPs: torch's FLOP counter (convolutions and matrix products; element-wise ops count 0). Inference: "
        "`net_info`; training: `FlopCounterMode` over one whole step (forward and backward of the network and "
        "of the loss's VGG and LPIPS networks).",
        "- Bytes: every ATen op reads each tensor argument and writes each output once (`traffic_bytes`, "
        "`TrafficCounter`): the traffic of an unfused eager run. ONNX Runtime and oneDNN fuse some ops, so "
        "their GB/s is an eager-equivalent rate; the training count includes the optimizer's passes.",
        "- Ceilings: peak per precision = the faster of the matrix product and the convolution; bandwidth = "
        "the faster of copy and triad, STREAM's byte count (no write-allocate).",
        "- % of roofline = achieved GFLOP/s / min(peak, intensity x bandwidth). bf16 rows use the bf16 peak "
        "(the bf16 training step keeps SSIM and the pixel loss terms in fp32).",
        "- Timing: warm-up, then repeats interleaved round by round within each group; medians and quartiles.",
        *[f"- {k}: {v}" for k, v in res["errors"].items()],
        "",
    ]
    return "\n".join(lines)
