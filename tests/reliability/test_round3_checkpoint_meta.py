"""Round 3, damaged checkpoints and wrong files: checkpoint meta of the wrong type is a damaged
checkpoint (exit 2), an image passed as the checkpoint is called an image, and a folder passed
as ``--split`` is named as one."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from hadamard_restore.cli.app import app

runner = CliRunner()


def _with_net(model_file, tmp_path, **net):
    blob = torch.load(model_file, weights_only=True)
    blob["meta"] = dict(blob["meta"], net={"channels": 4, "num_hnu": 1, "norm": "instance", **net})
    path = tmp_path / "damaged.pt"
    torch.save(blob, path)
    return path


@pytest.mark.parametrize(
    "net,named",
    [
        ({"channels": "eight"}, "channels"),
        ({"norm": "batch"}, "norm"),
        ({"num_hnu": 1.5}, "num_hnu"),
        ({"channels": True}, "channels"),
    ],
)
def test_checkpoint_meta_of_the_wrong_type_is_a_damaged_checkpoint(model_file, pairs, tmp_path, net, named):
    path = _with_net(model_file, tmp_path, **net)
    res = runner.invoke(app, ["enhance", str(path), str(pairs / "degraded"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and "bug" not in res.output
    assert "damaged or from an incompatible version" in res.output and named in res.output
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_a_net_block_that_is_not_a_mapping_is_a_damaged_checkpoint(model_file, tmp_path):
    from hadamard_restore.errors import CheckpointError
    from hadamard_restore.net.model_file import load_model

    blob = torch.load(model_file, weights_only=True)
    blob["meta"] = dict(blob["meta"], net=[4, 1])
    torch.save(blob, tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="net settings are invalid"):
        load_model(tmp_path / "list.pt")


def test_a_png_passed_as_the_checkpoint_is_called_a_png(pairs, tmp_path):
    png = pairs / "degraded" / "img0.png"
    res = runner.invoke(app, ["enhance", str(png), str(png), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2, res.output
    assert "is not a checkpoint (it looks like a PNG image)" in res.output
    assert "could run code" not in res.output


@pytest.mark.parametrize(
    "head,what",
    [(b"\xff\xd8\xff\xe0\x00\x10JFIF", "a JPEG image"), (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "a WebP image")],
)
def test_other_images_passed_as_a_checkpoint_are_named(tmp_path, head, what):
    from hadamard_restore.errors import CheckpointError
    from hadamard_restore.net.model_file import load_model

    path = tmp_path / "photo.pt"
    path.write_bytes(head + bytes(200))
    with pytest.raises(CheckpointError, match=f"it looks like {what}"):
        load_model(path)


def test_evaluate_split_given_a_folder_exits_2(model_file, pairs, tmp_path):
    res = runner.invoke(
        app, ["evaluate", str(model_file), "--data", str(pairs), "--split", str(pairs), "--out", str(tmp_path / "e")]
    )
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert f"split file {pairs} is a folder" in res.output


def test_train_with_a_split_file_that_is_a_folder_exits_2(config_file, pairs, tmp_path):
    """A folder as data.split_file ended in IsADirectoryError (exit 70) when the new split was saved onto it."""
    res = runner.invoke(
        app, ["train", str(config_file), "--set", f"data.split_file={pairs}", "--out", str(tmp_path / "r")]
    )
    assert res.exit_code == 2, res.output
    assert f"data.split_file {pairs} is a folder" in res.output and "Traceback" not in res.output
    assert (pairs / "degraded").is_dir() and not (tmp_path / "r").exists()
