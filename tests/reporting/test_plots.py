"""The plots are written (valid PNGs) from histories and probabilities of the stages' shapes."""

from __future__ import annotations

from hadamard_restore.reporting.plots import plot_alpha, plot_beta_history, plot_beta_softmax

PNG = b"\x89PNG\r\n\x1a\n"


def test_plots_are_written(tmp_path):
    names = ["l1", "l2", "tv"]
    hist = [{"step": i + 1, **{f"beta/{n}": 1.0 + 0.01 * i * k for k, n in enumerate(names)}} for i in range(5)]
    outs = [
        plot_beta_history(hist, names, tmp_path / "h.png"),
        plot_beta_softmax([1.2, 0.8, 0.0], names, tmp_path / "s.png"),
        plot_alpha(
            {"enc.head": [0.1, 0.2, 0.3, 0.4], "hnu1.ru0": [1 / 9] * 9, "dec.tail": [0.4, 0.3, 0.2, 0.1]},
            {"enc.head": list("abcd"), "hnu1.ru0": list("abcdefghi"), "dec.tail": list("abcd")},
            tmp_path / "a.png",
        ),
    ]
    for p in outs:
        assert p.read_bytes()[:8] == PNG and p.stat().st_size > 2000
