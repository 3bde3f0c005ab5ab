"""loss_weights.json: bundled names, round trips, and clear errors for bad files."""

from __future__ import annotations

import json

import pytest
import torch

from hadamard_restore.errors import LossWeightsError
from hadamard_restore.losses.functional import ssim_map
from hadamard_restore.losses.loss_weights import CONVENTIONS, LOSS_NAMES, bundled_names, load_loss_weights
from hadamard_restore.losses.mix import LossMix


def test_bundled_names_and_published_values():
    assert bundled_names() == ["equal", "l1-ssim", "paper-lol", "paper-mit", "paper-sihr-substitute", "paper-uie"]
    lol = load_loss_weights("paper-lol")
    assert lol.as_list() == [1.38, 1.28, 0.82, 1.23, 0.49, 0.74, 0.0, 0.0]
    assert lol.vgg_layers == ["relu1_1", "relu2_1", "relu3_1", "relu4_2"] and lol.vgg_backbone == "vgg19"
    assert load_loss_weights("paper-uie").vgg_layers == ["relu1_2", "relu2_2", "relu3_3", "relu4_2"]
    mit = load_loss_weights("paper-mit")
    assert (mit.weights["tv"], mit.weights["laplacian"]) == (0.0, 0.15)  # docs/method.md 8.12
    assert "vgg.layers" in mit.extra["substitute_parts"]
    sihr = load_loss_weights("paper-sihr-substitute")
    assert sihr.substitute and "SUBSTITUTE" in sihr.notes
    assert sihr.as_list() == [1.31, 1.19, 0.0, 1.07, 2.14, 1.37, 0.0, 0.0]
    assert sihr.vgg_layers[1] == "relu2_2"  # Fig. 8: index 7
    eq = load_loss_weights("equal")
    assert eq.as_list() == [1.0] * 8 and eq.vgg_layers is None
    for name in bundled_names():
        assert json.loads(json.dumps(load_loss_weights(name).to_dict()))["conventions"] == CONVENTIONS


def test_bundled_paper_weights_build_on_vgg16():
    for name in ("paper-lol", "paper-mit", "paper-uie", "paper-sihr-substitute"):
        mix = LossMix.from_weights(load_loss_weights(name), backbone="vgg16")
        assert mix.vgg_layers == load_loss_weights(name).vgg_layers and not mix.relaxed


def test_relaxed_round_trip(tmp_path, gen, tiny_features, random_lpips, odd_pair):
    mix = LossMix(vgg_features=tiny_features, lpips_model=random_lpips, generator=gen)
    with torch.no_grad():
        mix.beta.copy_(torch.tensor([1.5, 0.0, 0.25, 2.0, 0.7, 1.1, 0.0, 0.3]))
        for g in mix.vgg_logits:
            g.copy_(torch.randn(g.shape, generator=gen))
    path = mix.save(tmp_path / "loss_weights.json", name="searched")
    data = json.loads(path.read_text())
    assert data["weights"]["l1"] == 1.5 and data["vgg"]["layers"] is None
    assert data["vgg"]["backbone"] == "vgg16" and data["conventions"] == CONVENTIONS
    assert len(data["vgg"]["softmax"]) == 4 and data["vgg"]["argmax"] == mix.selected_layers()
    back = LossMix.from_weights(load_loss_weights(tmp_path), vgg_features=tiny_features, lpips_model=random_lpips)
    assert torch.allclose(back.beta, mix.beta)
    for a, b in zip(back.vgg_logits, mix.vgg_logits):
        assert torch.allclose(torch.softmax(a, 0), torch.softmax(b, 0), atol=1e-6)
    x, y = odd_pair
    assert torch.allclose(back(x, y)[0], mix(x, y)[0], atol=1e-5)


def test_l1_ssim_is_the_textbook_loss_and_computes_only_its_two_terms(gen):
    """``l1-ssim`` is mean |u - u*| + (1 - SSIM): the ssim term is 10 * (1 - SSIM) here, so its weight is
    0.1; the six zero-weight terms (VGG and LPIPS among them) are never computed."""
    mix = LossMix.from_weights(load_loss_weights("l1-ssim"))
    out, ref = torch.rand(2, 3, 24, 20, generator=gen), torch.rand(2, 3, 24, 20, generator=gen)
    with torch.no_grad():
        total, terms = mix(out, ref)
    assert set(terms) == {"l1", "ssim"}
    expected = (out - ref).abs().mean() + (1 - ssim_map(out, ref).mean())
    assert float(total) == pytest.approx(float(expected), rel=1e-5)


def test_discrete_round_trip(tmp_path):
    mix = LossMix([1.38, 1.28, 0.82, 1.23, 0.49, 0.74, 0, 0], ["relu1_2", "relu2_2", "relu3_3", "relu4_2"])
    mix.save(tmp_path / "lw.json")
    lw = load_loss_weights(tmp_path / "lw.json")
    assert lw.as_list() == pytest.approx([1.38, 1.28, 0.82, 1.23, 0.49, 0.74, 0, 0])
    assert lw.vgg_layers == mix.vgg_layers and lw.vgg_softmax is None and lw.lpips_normalize is False


def test_without_zeroes_named_terms():
    lw = load_loss_weights("equal").without("tv", "laplacian")
    assert lw.as_list() == [1, 1, 1, 1, 1, 1, 0, 0]
    with pytest.raises(LossWeightsError, match="unknown loss terms"):
        lw.without("entropy")
    equal = load_loss_weights("equal")
    assert equal.derived_without() == equal  # no names: the same weights under the same name
    assert equal.derived_without("tv").name == "equal without tv"


def _write(tmp_path, obj):
    p = tmp_path / "lw.json"
    p.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return p


def test_errors_are_explained(tmp_path):
    good = load_loss_weights("paper-lol").to_dict()
    with pytest.raises(LossWeightsError, match="no loss weights named 'paper-lolz'.*paper-lol"):
        load_loss_weights("paper-lolz")
    with pytest.raises(LossWeightsError, match="not valid JSON"):
        load_loss_weights(_write(tmp_path, '{"weights": {"l1": 1'))
    with pytest.raises(LossWeightsError, match="missing: \\['tv'\\]"):
        load_loss_weights(_write(tmp_path, {**good, "weights": {n: 1.0 for n in LOSS_NAMES if n != "tv"}}))
    with pytest.raises(LossWeightsError, match="'ssim' must be a finite number >= 0"):
        load_loss_weights(_write(tmp_path, {**good, "weights": {**good["weights"], "ssim": -1}}))
    with pytest.raises(LossWeightsError, match="other loss scales.*ssim"):
        load_loss_weights(_write(tmp_path, {**good, "conventions": {**CONVENTIONS, "ssim": "1 - SSIM"}}))
    with pytest.raises(LossWeightsError, match="relu3_4.*vgg16"):
        load_loss_weights(
            _write(
                tmp_path, {**good, "vgg": {"backbone": "vgg16", "layers": ["relu1_1", "relu2_1", "relu3_4", "relu4_2"]}}
            )
        )
    with pytest.raises(LossWeightsError, match="needs 8 values"):
        load_loss_weights(_write(tmp_path, {"weights": [1, 2, 3]}))
    assert load_loss_weights(_write(tmp_path, {"weights": [1] * 8})).as_list() == [1.0] * 8


def test_relaxed_state_from_other_backbone_is_refused(tmp_path, gen):
    mix19 = LossMix(backbone="vgg19", generator=gen)
    mix19.save(tmp_path / "lw.json")
    with pytest.raises(LossWeightsError, match="group 3.*candidates"):
        LossMix.from_weights(load_loss_weights(tmp_path / "lw.json"), backbone="vgg16")


def test_collapsed_weights_are_refused_with_a_reason():
    """A loss search can project every beta to 0; such a loss has no gradient to train with."""
    lw = load_loss_weights("equal")
    collapsed = lw.without(*LOSS_NAMES)
    with pytest.raises(LossWeightsError, match=r"every loss weight .* is 0, so training would have no gradient"):
        collapsed.require_active("training")
    # only TV and Laplacian left: stage 2 drops them, so it must refuse too
    only_reg = lw.without(*[n for n in LOSS_NAMES if n not in ("tv", "laplacian")])
    assert only_reg.require_active("training") is only_reg
    with pytest.raises(LossWeightsError, match="architecture search"):
        only_reg.without("tv", "laplacian").require_active("the architecture search")


def test_train_refuses_collapsed_weights(tmp_path):
    from hadamard_restore.config import RunConfig
    from hadamard_restore.training.train import build_loss

    lw = load_loss_weights("equal").without(*LOSS_NAMES)
    with pytest.raises(LossWeightsError, match="no gradient"):
        build_loss(lw, RunConfig())
