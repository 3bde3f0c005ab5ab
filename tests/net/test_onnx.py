"""The derived network exports to ONNX and the HNU division stays finite there (onnxruntime)."""

import io
import warnings

import numpy as np
import pytest
import torch

from hadamard_restore.net.genotype import Genotype
from hadamard_restore.net.network import HadamardNet
from hadamard_restore.net.primitives import label_primitives, layer_labels


@pytest.mark.parametrize("upsample", ["transpose", "resize"])
def test_onnx_export_matches_torch_and_is_finite(gen, upsample):
    import onnxruntime as ort

    layers = {l: label_primitives(l)[i % len(label_primitives(l))] for i, l in enumerate(layer_labels(1))}
    net = HadamardNet(Genotype.from_dict({"num_hnu": 1, "layers": layers}), channels=4, upsample=upsample).eval()
    x = torch.rand(1, 3, 37, 31, generator=gen)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (x,), buf, dynamo=False, input_names=["x"], output_names=["y"])
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    for scale in (1.0, 1e3):
        y = sess.run(None, {"x": (scale * x).numpy()})[0]
        assert np.isfinite(y).all()
        with torch.no_grad():
            ref = net(scale * x).numpy()
        np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4 * scale)
