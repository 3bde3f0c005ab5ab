"""Round 3, bounds: sizes and counts in configs, genotypes and checkpoint metadata have upper
bounds checked before anything is allocated, and a genotype's ``channels`` is honoured."""

from __future__ import annotations

import json

import pytest
import torch
import yaml
from typer.testing import CliRunner

from hadamard_restore.cli.app import app
from hadamard_restore.config import MAX_BATCH, MAX_CHANNELS, MAX_HNU, MAX_STEPS, ConfigError, load_config
from hadamard_restore.errors import CheckpointError, GenotypeError
from tests.reliability.helpers import run_config

runner = CliRunner()


@pytest.mark.parametrize(
    "override,limit",
    [
        (f"net.channels={MAX_CHANNELS * 100}", MAX_CHANNELS),
        (f"net.num_hnu={MAX_HNU + 1}", MAX_HNU),
        (f"train.batch_size={MAX_BATCH * 100}", MAX_BATCH),
        (f"search.batch_size={MAX_BATCH * 100}", MAX_BATCH),
        (f"classifier.batch_size={MAX_BATCH * 100}", MAX_BATCH),
        (f"train.steps={10**23}", MAX_STEPS),
        (f"search.loss_steps={10**23}", MAX_STEPS),
        ("train.crop=100000", 4096),
    ],
)
def test_config_sizes_and_counts_have_upper_bounds(override, limit):
    with pytest.raises(ConfigError, match=f"less than or equal to {limit}"):
        load_config(None, [override])


def test_a_batch_of_too_many_pixels_is_refused_naming_both_settings():
    with pytest.raises(ConfigError, match=r"train.batch_size \* train.crop\*\*2"):
        load_config(None, ["train.batch_size=1024", "train.crop=4096"])


@pytest.mark.parametrize("override", ["net.channels=100000", "train.batch_size=100000"])
def test_train_with_a_huge_size_exits_2_before_building_anything(config_file, tmp_path, override):
    res = runner.invoke(app, ["train", str(config_file), "--set", override, "--out", str(tmp_path / "r")])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and "less than or equal to" in res.output
    assert not (tmp_path / "r").exists()


def _checkpoint_with_net(model_file, tmp_path, net) -> str:
    blob = torch.load(model_file, weights_only=True)
    blob["meta"] = dict(blob["meta"], net=net)
    path = tmp_path / "declared.pt"
    torch.save(blob, path)
    return str(path)


def test_a_checkpoint_declaring_200000_channels_is_refused_before_the_network_is_built(
    model_file, tmp_path, monkeypatch
):
    """The 80 KB file that asked for a 360 GB network: refused from its meta, nothing allocated."""
    from hadamard_restore.net import network
    from hadamard_restore.net.model_file import load_model

    path = _checkpoint_with_net(model_file, tmp_path, {"channels": 200000, "num_hnu": 1, "norm": "instance"})
    built = []
    real_init = network.HadamardNet.__init__

    def spy(self, *args, **kwargs):
        built.append(kwargs.get("channels"))
        if (kwargs.get("channels") or 0) > MAX_CHANNELS:
            raise AssertionError("the network was built from an unchecked width")
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(network.HadamardNet, "__init__", spy)
    with pytest.raises(CheckpointError, match="less than or equal to 1024"):
        load_model(path)
    assert built == []


def test_enhance_with_a_huge_declared_width_exits_2(model_file, tmp_path, pairs):
    path = _checkpoint_with_net(model_file, tmp_path, {"channels": 200000, "num_hnu": 1, "norm": "instance"})
    res = runner.invoke(app, ["enhance", path, str(pairs / "degraded"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2, res.output
    assert "damaged or from an incompatible version" in res.output and "Traceback" not in res.output


@pytest.mark.parametrize("num_hnu", [10**9, MAX_HNU + 1])
def test_a_genotype_with_a_huge_num_hnu_is_refused(genotype_file, tmp_path, num_hnu):
    from hadamard_restore.net.genotype import load_genotype

    data = json.loads(genotype_file.read_text())
    path = tmp_path / "g.json"
    path.write_text(json.dumps(dict(data, num_hnu=num_hnu)))
    with pytest.raises(GenotypeError, match=f"num_hnu must be an integer from 1 to {MAX_HNU}"):
        load_genotype(str(path))


def test_a_genotype_whose_labels_name_a_huge_hnu_is_refused(genotype_file, tmp_path):
    """Without num_hnu the count is inferred from the labels: hnu1000000000.ru0 must not list 10^9 HNUs."""
    from hadamard_restore.net.genotype import load_genotype

    data = json.loads(genotype_file.read_text())
    data.pop("num_hnu", None)
    data["layers"]["hnu1000000000.ru0"] = "conv_3x3"
    path = tmp_path / "g.json"
    path.write_text(json.dumps(data))
    with pytest.raises(GenotypeError, match=f"more than the limit of {MAX_HNU} HNUs"):
        load_genotype(str(path))


def test_a_genotype_with_huge_channels_is_refused(genotype_file, tmp_path):
    from hadamard_restore.net.genotype import load_genotype

    data = json.loads(genotype_file.read_text())
    path = tmp_path / "g.json"
    path.write_text(json.dumps(dict(data, channels=200000)))
    with pytest.raises(GenotypeError, match=f"even integer from 4 to {MAX_CHANNELS}"):
        load_genotype(str(path))


def _train(tmp_path, pairs, genotype, loss_weights, name, set_channels):
    cfg = run_config(pairs, genotype, loss_weights, tmp_path / "runs", steps=2, val_every=2, checkpoint_every=2)
    if not set_channels:
        del cfg["net"]["channels"]
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / name
    res = runner.invoke(app, ["train", str(path), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out, res


def test_a_genotypes_channels_is_honoured_when_the_config_leaves_the_width_open(
    tmp_path, pairs, genotype_file, loss_weights_file
):
    data = json.loads(genotype_file.read_text())
    geno = tmp_path / "g8.json"
    geno.write_text(json.dumps(dict(data, channels=8)))
    out, _ = _train(tmp_path, pairs, geno, loss_weights_file, "open", set_channels=False)
    meta = torch.load(out / "model.pt", weights_only=True)["meta"]
    assert meta["net"]["channels"] == 8
    assert yaml.safe_load((out / "config.yaml").read_text())["net"]["channels"] == 8
    from hadamard_restore.net.model_file import load_model

    model, _ = load_model(out / "model.pt")
    assert model.channels == 8


def test_a_config_that_sets_another_width_wins_and_says_so(tmp_path, pairs, genotype_file, loss_weights_file, caplog):
    data = json.loads(genotype_file.read_text())
    geno = tmp_path / "g8.json"
    geno.write_text(json.dumps(dict(data, channels=8)))
    with caplog.at_level("WARNING", logger="hadamard_restore.net"):
        out, _ = _train(tmp_path, pairs, geno, loss_weights_file, "fixed", set_channels=True)
    assert torch.load(out / "model.pt", weights_only=True)["meta"]["net"]["channels"] == 4
    assert any(
        "searched at 8 channels" in r.getMessage() and "net.channels=4" in r.getMessage() for r in caplog.records
    )


def test_an_odd_width_is_refused_by_the_config_and_in_a_checkpoint(model_file, tmp_path):
    """The network halves the width at full resolution: an odd one was a traceback (exit 70)."""
    from hadamard_restore.net.model_file import load_model

    with pytest.raises(ConfigError, match="net.channels: Input should be a multiple of 2"):
        load_config(None, ["net.channels=5"])
    with pytest.raises(CheckpointError, match="multiple of 2"):
        load_model(_checkpoint_with_net(model_file, tmp_path, {"channels": 5, "num_hnu": 1, "norm": "instance"}))


def test_a_genotype_with_a_million_bad_labels_gets_a_short_message(genotype_file, tmp_path):
    from hadamard_restore.net.genotype import load_genotype

    data = json.loads(genotype_file.read_text())
    data["layers"].update({f"junk{i}": "conv_3x3" for i in range(10**5)})
    path = tmp_path / "g.json"
    path.write_text(json.dumps(data))
    with pytest.raises(GenotypeError) as info:
        load_genotype(str(path))
    assert "and 99980 more problem(s)" in str(info.value) and len(str(info.value)) < 4000
