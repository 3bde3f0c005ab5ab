"""Round 3: a split names files inside ``--data``; ``../`` or absolute paths are refused from the
names alone, with one message whether or not the outside file exists."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from hadamard_restore.cli.app import app
from hadamard_restore.data.split import Split
from hadamard_restore.errors import DataError

runner = CliRunner()


def _split(pairs, tmp_path) -> dict:
    out = tmp_path / "split.json"
    res = runner.invoke(app, ["data", "split", str(pairs), "--out", str(out), "--group-key", "none"])
    assert res.exit_code == 0, res.output
    return json.loads(out.read_text())


def _with_entry(tmp_path, split: dict, name: str, file: str) -> str:
    changed = json.loads(json.dumps(split))
    changed["val"][0]["degraded"] = name
    (tmp_path / file).write_text(json.dumps(changed))
    return str(tmp_path / file)


@pytest.mark.parametrize("kind", ["dotdot", "absolute"])
def test_a_split_reaching_outside_data_is_refused_without_telling_what_exists(kind, pairs, tmp_path, model_file):
    split = _split(pairs, tmp_path)
    outside = tmp_path / "secret"
    outside.mkdir()
    shutil.copy(pairs / "degraded" / "img0.png", outside / "present.png")
    if kind == "dotdot":
        present, missing = "../secret/present.png", "../secret/missing.png"
    else:
        present, missing = str(outside / "present.png"), str(outside / "missing.png")
    outputs = []
    for name, file in ((present, "a.json"), (missing, "b.json")):
        path = _with_entry(tmp_path, split, name, file)
        res = runner.invoke(
            app, ["evaluate", str(model_file), "--data", str(pairs), "--split", path, "--out", str(tmp_path / "e")]
        )
        assert res.exit_code == 2 and "outside the dataset folder" in res.output and name in res.output, res.output
        assert "Traceback" not in res.output and not (tmp_path / "e" / "metrics.json").exists()
        outputs.append(res.output.replace(file, "SPLIT").replace(name, "NAME"))
        res = runner.invoke(app, ["data", "verify", path, str(pairs)])
        assert res.exit_code == 2 and "outside the dataset folder" in res.output, res.output
        outputs.append(res.output.replace(file, "SPLIT").replace(name, "NAME"))
    assert outputs[0] == outputs[2] and outputs[1] == outputs[3]  # an existing file looks like a missing one


def test_names_inside_the_root_still_load(pairs, tmp_path):
    split = _split(pairs, tmp_path)
    path = _with_entry(tmp_path, split, "degraded/./img0.png", "ok.json")
    assert Split.load(path).val[0].degraded == "degraded/./img0.png"
    for bad in ("degraded/../../x.png", "C:\\data\\x.png", "..\\x.png", "/etc/passwd"):
        with pytest.raises(DataError, match="outside the dataset folder"):
            Split.load(_with_entry(tmp_path, split, bad, "bad.json"))
