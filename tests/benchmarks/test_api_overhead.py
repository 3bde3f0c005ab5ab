"""benchmarks/product/api_overhead.py runs end to end at a toy size (speed is not asserted, only that every
section of the table is there: the backends, the side-by-side ratio and both enhance calls)."""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_api_overhead_writes_every_section(tmp_path, monkeypatch):
    from benchmarks.product import api_overhead

    monkeypatch.delenv("HADAMARD_RESTORE_DATA", raising=False)  # the bundled photo, cropped
    monkeypatch.setenv("HADAMARD_RESTORE_CACHE", str(tmp_path / "unused"))
    out = tmp_path / "table.md"
    assert api_overhead.main(["--size", "64x48", "--repeats", "1", "--note", "toy run", "--out", str(out)]) == 0
    text = out.read_text()
    assert "| eager |" in text and "| channels-last |" in text and "| onnx |" in text
    assert "| enhance_image(pil) |" in text and "bare forward (" in text and "of the fastest backend's" in text
    assert "| one photo, first call (empty cache) |" in text and "| one photo, second call (cached) |" in text
    assert "| 4 photos of that size, first call (empty cache) |" in text
    assert "toy run." in text and "load average" in text
