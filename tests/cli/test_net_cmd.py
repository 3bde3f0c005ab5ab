"""``hadamard-restore net info``."""

import json

from typer.testing import CliRunner

from hadamard_restore.cli.app import app
from hadamard_restore.net.genotype import load_genotype

runner = CliRunner()


def run(*args):
    return runner.invoke(app, ["net", "info", *args])


def test_reference_parameter_counts():
    lol = run("paper-lol")
    assert lol.exit_code == 0, lol.output
    assert "527,840" in lol.output and "MACs at 600x400" in lol.output and "MiB" in lol.output
    assert "621,408" in run("all-3c", "--size", "37x31").output
    # resize-conv up-samplers: 3x3 instead of 2x2 taps in up1 (C->C) and up2 (C->C/2), C = 32
    resize = run("all-3c", "--size", "37x31", "--upsample", "resize")
    assert f"{621_408 + 5 * 32 * 32 + 5 * 32 * 16:,}" in resize.output and "upsample resize" in resize.output


def test_json_output_for_supernet_and_a_file(tmp_path):
    res = run("supernet", "--size", "37x31", "--channels", "4", "--num-hnu", "1", "--json")
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert info["size"] == [37, 31] and info["arch_parameters"] == 144 and info["macs"] > 0
    path = load_genotype("all-1c").save(tmp_path / "g.json")
    res = run(str(path), "--json", "--size", "8x8")
    assert json.loads(res.output)["parameters"] == 79_968


def test_errors_exit_2_with_a_message():
    res = run("nope")
    assert res.exit_code == 2 and "unknown genotype 'nope'" in res.output
    res = run("paper-lol", "--size", "600")
    assert res.exit_code == 2 and "HxW" in res.output
    res = run("supernet", "--channels", "5")
    assert res.exit_code == 2 and "--channels must be even" in res.output
    res = run("all-3c", "--upsample", "nearest")
    assert res.exit_code == 2 and "--upsample must be one of transpose, transpose-icnr, resize" in res.output
