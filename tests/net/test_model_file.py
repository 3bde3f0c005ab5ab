"""Checkpoint files: round trip, weights_only safety, mismatch and truncation errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hadamard_restore.errors import CheckpointError
from hadamard_restore.net import model_file
from hadamard_restore.net.genotype import load_genotype
from hadamard_restore.training.state import load_training_state, save_training_state


class Tiny(nn.Module):
    def __init__(self, width: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, width, 3, padding=1, bias=False)
        self.out = nn.Conv2d(width, 3, 1, bias=False)

    def forward(self, x):
        return self.out(torch.relu(self.conv(x)))


GENO = load_genotype("all-1c")
LW = {"weights": {"l1": 1.38, "l2": 1.28}, "vgg_layers": [1, 6, 11, 22]}


def _saved(tmp_path, gen, model=None):
    torch.manual_seed(0)
    model = model or Tiny()
    path = model_file.save_model(tmp_path / "model.pt", model, GENO, LW, None, step=7, val_psnr=21.5)
    return model, path


def test_model_file_round_trip_keeps_weights_and_meta(tmp_path, gen):
    model, path = _saved(tmp_path, gen)
    blob = model_file.read_model_file(path)
    assert blob["format"] == model_file.MODEL_FORMAT
    assert blob["meta"]["genotype"]["name"] == GENO.name and blob["meta"]["loss_weights"] == LW
    assert blob["meta"]["step"] == 7 and blob["meta"]["val_psnr"] == 21.5
    fresh = Tiny()
    x = torch.rand(1, 3, 37, 31, generator=gen)
    assert not torch.equal(fresh(x), model(x))
    model_file.load_state_into(fresh, blob["state_dict"])
    assert torch.equal(fresh(x), model(x))


def test_channels_last_and_ddp_like_wrappers_are_saved_plainly(tmp_path):
    model = Tiny().to(memory_format=torch.channels_last)
    wrapper = nn.Module()
    wrapper.module = model  # what DDP looks like
    path = model_file.save_model(tmp_path / "m.pt", wrapper, GENO, LW)
    sd = model_file.read_model_file(path)["state_dict"]
    assert set(sd) == {"conv.weight", "out.weight"}  # no "module." prefix
    assert all(t.is_contiguous() for t in sd.values())


def test_file_loads_with_weights_only(tmp_path, gen):
    _, path = _saved(tmp_path, gen)
    blob = torch.load(path, weights_only=True)  # must not raise: plain data only
    assert isinstance(blob["meta"]["config"], str)


def test_pickled_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("this would run code",))

    path = tmp_path / "evil.pt"
    torch.save({"format": model_file.MODEL_FORMAT, "meta": {}, "state_dict": {}, "x": Evil()}, path)
    with pytest.raises(CheckpointError, match="could run code"):
        model_file.read_model_file(path)


def test_truncated_file_is_a_clear_error(tmp_path, gen):
    _, path = _saved(tmp_path, gen)
    data = path.read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        model_file.read_model_file(cut)
    with pytest.raises(CheckpointError, match="does not exist"):
        model_file.read_model_file(tmp_path / "nope.pt")


def test_foreign_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "sd.pt"
    torch.save(Tiny().state_dict(), path)
    with pytest.raises(CheckpointError, match="not a hadamard-restore checkpoint"):
        model_file.read_model_file(path)


def test_weights_of_another_architecture_do_not_fit(tmp_path, gen):
    _, path = _saved(tmp_path, gen)
    other = Tiny(width=5)
    with pytest.raises(CheckpointError, match=r"3 shape mismatches|shape mismatches.*conv.weight"):
        model_file.load_state_into(other, model_file.read_model_file(path)["state_dict"])
    extra = nn.Sequential(Tiny())
    with pytest.raises(CheckpointError, match="missing keys.*unexpected keys.*different genotype"):
        model_file.load_state_into(extra, model_file.read_model_file(path)["state_dict"])


def test_training_state_holds_optimizer_and_rng(tmp_path, gen):
    model = Tiny()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.rand(1, 3, 9, 7, generator=gen)).mean().backward()
    opt.step()
    training = {"optimizer": opt.state_dict(), "step": 3, "rng": {"data": gen.get_state()}, "best_val_psnr": 20.0}
    path = save_training_state(tmp_path / "last.pt", model, model_file.make_meta(GENO, LW), training)
    blob = load_training_state(path)
    assert torch.equal(blob["training"]["rng"]["data"], gen.get_state())
    opt2 = torch.optim.AdamW(Tiny().parameters(), lr=1e-3)
    opt2.load_state_dict(blob["training"]["optimizer"])
    assert opt2.state_dict()["state"][0]["step"] == opt.state_dict()["state"][0]["step"]
    _, plain = _saved(tmp_path, gen)
    with pytest.raises(CheckpointError, match="not a training state"):
        load_training_state(plain)


# --------------------------------------------------------------- the real derived network
def _hnet(name="all-3c", seed=0):
    from hadamard_restore.net.network import HadamardNet

    return HadamardNet(load_genotype(name), channels=4, num_hnu=7, generator=torch.Generator().manual_seed(seed))


def test_load_model_rebuilds_the_network_and_gives_the_same_outputs(tmp_path, gen):
    from hadamard_restore.config import RunConfig, dump_config

    cfg = RunConfig.model_validate({"net": {"channels": 4, "num_hnu": 7}})
    net = _hnet(seed=1)
    path = model_file.save_model(tmp_path / "model.pt", net, net.genotype, LW, cfg.net, dump_config(cfg))
    loaded, meta = model_file.load_model(path, "cpu")
    assert type(loaded) is type(net) and not loaded.training
    assert meta["net"] == {"channels": 4, "num_hnu": 7, "norm": "instance", "upsample": "transpose"}
    assert meta["genotype"]["layers"] == net.genotype.to_dict()["layers"]
    assert "channels: 4" in meta["config"]
    x = torch.rand(1, 3, 37, 31, generator=gen)
    assert torch.equal(loaded(x), net(x))


def test_a_resize_upsampler_model_round_trips_and_an_older_file_builds_the_paper_s(tmp_path, gen):
    """The file records net.upsample; a file written before the setting (no key) holds transposed
    convolutions and loads as such."""
    from hadamard_restore.config import RunConfig, dump_config
    from hadamard_restore.net.network import HadamardNet

    cfg = RunConfig.model_validate({"net": {"channels": 4, "upsample": "resize"}})
    net = HadamardNet(load_genotype("all-3c"), channels=4, upsample="resize")
    path = model_file.save_model(tmp_path / "resize.pt", net, net.genotype, LW, cfg.net, dump_config(cfg))
    loaded, meta = model_file.load_model(path, "cpu")
    assert meta["net"]["upsample"] == "resize" and loaded.upsample == "resize"
    x = torch.rand(1, 3, 37, 31, generator=gen)
    assert torch.equal(loaded(x), net(x))

    # ICNR is an initialisation: a trained file (taps moved apart) loads its weights, not the init
    icnr = HadamardNet(load_genotype("all-3c"), channels=4, upsample="transpose-icnr")
    with torch.no_grad():
        icnr.up1.weight.add_(torch.rand(icnr.up1.weight.shape, generator=gen))
    cfg = RunConfig.model_validate({"net": {"channels": 4, "upsample": "transpose-icnr"}})
    path = model_file.save_model(tmp_path / "icnr.pt", icnr, icnr.genotype, LW, cfg.net, dump_config(cfg))
    loaded, meta = model_file.load_model(path, "cpu")
    assert meta["net"]["upsample"] == "transpose-icnr" and torch.equal(loaded(x), icnr(x))

    old = _hnet()
    path = model_file.save_model(tmp_path / "old.pt", old, old.genotype, LW, None)
    blob = model_file.read_model_file(path)
    blob["meta"]["net"].pop("upsample", None)
    torch.save(blob, tmp_path / "older.pt")
    loaded, _ = model_file.load_model(tmp_path / "older.pt", "cpu")
    assert loaded.upsample == "transpose" and torch.equal(loaded(x), old(x))

    blob["meta"]["net"]["upsample"] = "pixelshuffle"  # a damaged file: a clear error, not a traceback
    torch.save(blob, tmp_path / "damaged.pt")
    with pytest.raises(CheckpointError, match="upsample"):
        model_file.load_model(tmp_path / "damaged.pt", "cpu")


def test_weights_of_another_genotype_are_a_clear_error(tmp_path):
    net = _hnet("all-3c")
    path = model_file.save_model(tmp_path / "model.pt", net, net.genotype, LW, None)
    with pytest.raises(CheckpointError, match="does not fit this network.*different genotype"):
        model_file.load_model(path, "cpu", genotype=load_genotype("paper-lol"))
    with pytest.raises(CheckpointError, match="missing keys|shape mismatches"):
        model_file.load_state_into(_hnet("all-1rc"), model_file.read_model_file(path)["state_dict"])
