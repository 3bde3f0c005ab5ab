"""HWIO -> OIHW conversion and the mapping onto torchvision's ``features`` indices."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hadamard_restore.backbones import convert
from hadamard_restore.errors import WeightsSourceError

ALEX_CONVS = [(11, 3, 64), (5, 64, 192), (3, 192, 384), (3, 384, 256), (3, 256, 256)]


def _alex_tree(rng):
    convs = {
        f"Conv_{k}": {
            "kernel": rng.standard_normal((s, s, i, o)).astype(np.float32),
            "bias": rng.standard_normal(o).astype(np.float32),
        }
        for k, (s, i, o) in enumerate(ALEX_CONVS)
    }
    tree = {"AlexNet_0": convs}
    for i, c in enumerate(convert.HEAD_CHANNELS["alex"]):
        tree[f"NetLinLayer_{i}"] = {"Conv_0": {"kernel": rng.random((1, 1, c, 1)).astype(np.float32)}}
    return tree


def test_conv_indices_match_torchvision():
    assert convert.conv_indices("vgg16") == [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
    assert convert.conv_indices("alexnet") == [0, 3, 6, 8, 10]


def test_hwio_kernel_lands_on_oihw_index():
    rng = np.random.default_rng(1)
    tree = _alex_tree(rng)
    state = convert.features_from_flax(tree, "alexnet")
    k = tree["AlexNet_0"]["Conv_1"]["kernel"]  # (5, 5, 64, 192) HWIO -> features[3]
    w = state["3.weight"]
    assert tuple(w.shape) == (192, 64, 5, 5)
    assert w[7, 11, 2, 4].item() == k[2, 4, 11, 7]
    np.testing.assert_array_equal(state["10.bias"].numpy(), tree["AlexNet_0"]["Conv_4"]["bias"])


def test_converted_conv_computes_the_flax_cross_correlation():
    """torch conv2d with the converted weight equals sum_{h,w,i} x[i,y+h,x+w] K[h,w,i,o] + b."""
    rng = np.random.default_rng(2)
    tree = _alex_tree(rng)
    state = convert.features_from_flax(tree, "alexnet")
    x = rng.standard_normal((64, 7, 9)).astype(np.float32)
    out = F.conv2d(torch.from_numpy(x)[None], state["3.weight"], state["3.bias"])[0]
    k, b = tree["AlexNet_0"]["Conv_1"]["kernel"], tree["AlexNet_0"]["Conv_1"]["bias"]
    ref = np.einsum("ihw,hwio->o", x[:, 1:6, 2:7].astype(np.float64), k.astype(np.float64)) + b
    np.testing.assert_allclose(out[:, 1, 2].numpy(), ref, rtol=1e-4, atol=1e-4)


def test_heads_transpose_and_shapes():
    tree = _alex_tree(np.random.default_rng(3))
    heads = convert.heads_from_flax(tree, "alex")
    assert tuple(heads["lin2.model.1.weight"].shape) == (1, 384, 1, 1)
    np.testing.assert_array_equal(
        heads["lin2.model.1.weight"][0, :, 0, 0].numpy(), tree["NetLinLayer_2"]["Conv_0"]["kernel"][0, 0, :, 0]
    )


def test_wrong_shape_is_refused_naming_the_key():
    tree = _alex_tree(np.random.default_rng(4))
    tree["AlexNet_0"]["Conv_2"]["kernel"] = np.zeros((3, 3, 192, 383), np.float32)
    with pytest.raises(
        WeightsSourceError, match=r"wrong shapes \['6\.weight: \(383, 192, 3, 3\) != \(384, 192, 3, 3\)"
    ):
        convert.features_from_flax(tree, "alexnet")


def test_missing_conv_and_missing_head_are_refused():
    tree = _alex_tree(np.random.default_rng(5))
    del tree["AlexNet_0"]["Conv_4"]
    with pytest.raises(WeightsSourceError, match="4 convolutions, torchvision's alexnet has 5"):
        convert.features_from_flax(tree, "alexnet")
    del tree["NetLinLayer_3"]
    with pytest.raises(WeightsSourceError, match="no NetLinLayer_3/Conv_0/kernel"):
        convert.heads_from_flax(tree, "alex")


def test_features_from_full_state_dict_strips_prefix():
    features = convert.build_features("alexnet")
    full = {f"features.{k}": v for k, v in features.state_dict().items()}
    full["classifier.1.weight"] = torch.zeros(3, 3)
    out = convert.features_from_full(full, "alexnet", "test")
    assert set(out) == set(features.state_dict())
    torch.testing.assert_close(out["0.weight"], features[0].weight)
