"""Genotype JSON: round trips, bundled reference genotypes, clear errors for malformed files."""

import json
import re

import pytest

from hadamard_restore.errors import GenotypeError
from hadamard_restore.net.genotype import Genotype, bundled_genotypes, derive_genotype, load_genotype
from hadamard_restore.net.primitives import FCM_PRIMITIVES, HNU_PRIMITIVES, SPACES, label_primitives, layer_labels


def valid(num_hnu=1, **extra):
    layers = {l: label_primitives(l)[i % len(label_primitives(l))] for i, l in enumerate(layer_labels(num_hnu))}
    return {"num_hnu": num_hnu, "layers": layers, **extra}


def test_round_trip_through_json_text_and_file(tmp_path):
    probs = {l: [1.0 / len(label_primitives(l))] * len(label_primitives(l)) for l in layer_labels(1)}
    g = Genotype.from_dict(valid(channels=8, probabilities=probs, name="x", description="d"))
    assert Genotype.from_json(g.to_json()) == g
    path = g.save(tmp_path / "sub" / "genotype.json")
    assert load_genotype(path) == g and load_genotype(str(path)) == g
    assert json.loads(path.read_text())["primitives"] == {"hnu": list(HNU_PRIMITIVES), "fcm": list(FCM_PRIMITIVES)}
    assert list(load_genotype(path).layers) == layer_labels(1)


def test_bundled_genotypes_load_by_name():
    assert set(bundled_genotypes()) >= {
        "paper-lol",
        "paper-mit",
        "paper-uie",
        "paper-sihr",
        "all-1c",
        "all-3c",
        "all-1rc",
        "all-3rc",
    }
    for name in bundled_genotypes():
        g = load_genotype(name)
        assert g.name == name and g.num_hnu == 7 and len(g.layers) == 74


def test_paper_lol_transcription_spot_checks():
    """Rows of docs/method.md 7.2, LLIE-LOL."""
    g = load_genotype("paper-lol").layers
    assert [g[f"enc.{k}"] for k in ("head", "e1a-1", "e1a-2", "e2a-2")] == [
        "dilconv_3x3",
        "dilconv_3x3",
        "conv_5x5",
        "conv_3x3",
    ]
    assert [g[f"hnu4.{k}"] for k in ("ru0", "ru1", "ru2", "ru3", "rv0", "rv1", "rv2", "rv3")] == [
        "denseblocks_1x1",
        "denseblocks_3x3",
        "denseblocks_3x3",
        "conv_1x1",
        "resconv_1x1",
        "resdilconv_3x3",
        "skip_connect",
        "skip_connect",
    ]
    assert g["dec.tail"] == "conv_1x1" and g["dec.d1b-2"] == "conv_5x5"
    sihr = load_genotype("paper-sihr").layers
    assert sihr["hnu7.ru0"] == "resdilconv_3x3" and sihr["dec.tail"] == "dilconv_3x3"


def test_baselines_use_one_op_per_set():
    for name, hnu, fcm in [("all-1c", "conv_1x1", "conv_1x1"), ("all-3rc", "resconv_3x3", "conv_3x3")]:
        layers = load_genotype(name).layers
        assert {v for k, v in layers.items() if k.startswith("hnu")} == {hnu}
        assert {v for k, v in layers.items() if not k.startswith("hnu")} == {fcm}


def test_abbreviations_are_normalised():
    d = valid()
    d["layers"]["hnu1.ru0"], d["layers"]["enc.head"] = "RDIL3", "C5"
    g = Genotype.from_dict(d)
    assert g.layers["hnu1.ru0"] == "resdilconv_3x3" and g.layers["enc.head"] == "conv_5x5"


def _broken(mutate):
    d = valid()
    mutate(d)
    return d


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d["layers"].pop("hnu1.rv2"), r"missing layer\(s\): hnu1.rv2"),
        (lambda d: d["layers"].update({"hnu9.ru0": "conv_1x1"}), r"unknown layer label 'hnu9.ru0'"),
        (
            lambda d: d["layers"].update({"enc.head": "skip_connect"}),
            r"layer 'enc.head': op 'skip_connect' is not a candidate here \(choose from conv_5x5",
        ),
        (lambda d: d["layers"].update({"hnu1.ru1": "conv_7x7"}), r"layer 'hnu1.ru1': op 'conv_7x7'"),
        (lambda d: d.update(probabilities={"enc.head": [0.5, 0.5]}), r"probabilities for layer 'enc.head' must be 4"),
        (lambda d: d.update(probabilities={"enc.head": [0.5, 0.5, 0.5, 0.5]}), r"summing to 1"),
        (
            lambda d: d.update(primitives={"hnu": list(reversed(HNU_PRIMITIVES)), "fcm": list(FCM_PRIMITIVES)}),
            r"are not the ordered candidate sets of a known search space \(paper: .*global: ",
        ),
        (
            lambda d: d["layers"].update({"hnu1.ru1": "globalres_1x1"}),
            r"layer 'hnu1.ru1': op 'globalres_1x1' is not a candidate here",  # the paper's space has no global op
        ),
        (lambda d: d.update(colour="blue"), r"unknown key\(s\) \['colour'\]"),
        (lambda d: d.update(num_hnu=0), r"num_hnu must be an integer from 1 to 64"),
        (lambda d: d.update(channels=7), r"channels must be null or an even integer"),
        (lambda d: d.update(version=2), r"is not 'hadamard-restore/genotype'/1"),
    ],
)
def test_malformed_genotypes_name_the_problem(mutate, message):
    with pytest.raises(GenotypeError, match=message):
        Genotype.from_dict(_broken(mutate), "g.json")


def test_structural_errors():
    with pytest.raises(GenotypeError, match="expected a JSON object"):
        Genotype.from_dict([1, 2])
    with pytest.raises(GenotypeError, match="'layers' must be a mapping"):
        Genotype.from_dict({"layers": ["conv_1x1"]})
    with pytest.raises(GenotypeError, match="not valid JSON"):
        Genotype.from_json('{"layers": ')
    with pytest.raises(GenotypeError, match=r"missing layer\(s\): hnu2.ru0"):  # depth says 2, labels say 1
        Genotype.from_dict(valid(1) | {"num_hnu": 2})


def test_unknown_name_or_missing_file(tmp_path):
    with pytest.raises(GenotypeError, match="unknown genotype 'paper-xyz': not a bundled name .*paper-lol"):
        load_genotype("paper-xyz")
    bad = tmp_path / "g.json"
    bad.write_text(json.dumps(_broken(lambda d: d["layers"].pop("dec.tail"))))
    with pytest.raises(GenotypeError, match=rf"(?s){re.escape(str(bad))}.*missing layer\(s\): dec.tail"):
        load_genotype(bad)


def test_derive_takes_first_maximum_and_needs_every_layer():
    probs = {l: [1.0 / len(label_primitives(l))] * len(label_primitives(l)) for l in layer_labels(1)}
    probs["hnu1.rv3"] = [0.0, 0.4, 0.0, 0.0, 0.0, 0.0, 0.2, 0.0, 0.4]
    g = derive_genotype(probs, num_hnu=1)
    assert g.layers["hnu1.rv3"] == "conv_1x1" and g.layers["hnu1.ru0"] == "skip_connect"
    assert g.layers["enc.head"] == "conv_5x5" and g.probabilities == probs
    del probs["dec.tail"]
    with pytest.raises(GenotypeError, match="no probabilities for layer 'dec.tail'"):
        derive_genotype(probs, num_hnu=1)


def global_space_genotype(**extra):
    """A one-HNU genotype of the ``global`` space using its global op in two HNU layers."""
    d = valid(primitives={k: list(v) for k, v in SPACES["global"].items()}, **extra)
    d["layers"]["hnu1.ru2"] = d["layers"]["hnu1.rv0"] = "globalres_1x1"
    return d


def test_a_global_space_genotype_records_its_space_and_round_trips(tmp_path):
    probs = {
        l: [1.0 / len(label_primitives(l, "global"))] * len(label_primitives(l, "global")) for l in layer_labels(1)
    }
    g = Genotype.from_dict(global_space_genotype(probabilities=probs))
    assert g.space == "global" and g.layers["hnu1.ru2"] == "globalres_1x1" and len(g.probabilities["hnu1.ru0"]) == 10
    assert load_genotype(g.save(tmp_path / "g.json")) == g
    assert json.loads((tmp_path / "g.json").read_text())["primitives"]["hnu"][-1] == "globalres_1x1"
    d = global_space_genotype()
    d["layers"]["hnu1.ru3"] = "GRC1"  # the abbreviation, as for the paper's ops
    assert Genotype.from_dict(d).layers["hnu1.ru3"] == "globalres_1x1"
    with pytest.raises(GenotypeError, match=r"probabilities for layer 'hnu1.ru0' must be 10"):
        Genotype.from_dict(global_space_genotype(probabilities={"hnu1.ru0": [1.0 / 9] * 9}))
    paper = Genotype.from_dict(valid())
    assert paper.space == "paper" and paper.primitives == {"hnu": list(HNU_PRIMITIVES), "fcm": list(FCM_PRIMITIVES)}


def test_derive_in_the_global_space_records_its_sets():
    probs = {
        l: [1.0 / len(label_primitives(l, "global"))] * len(label_primitives(l, "global")) for l in layer_labels(1)
    }
    probs["hnu1.rv1"] = [0.0] * 9 + [1.0]
    g = derive_genotype(probs, num_hnu=1, space="global")
    assert g.space == "global" and g.layers["hnu1.rv1"] == "globalres_1x1" and g.layers["hnu1.ru0"] == "skip_connect"
    with pytest.raises(GenotypeError, match="has 10 probabilities, but the .paper. space has 9"):
        derive_genotype(probs, num_hnu=1)  # 10 columns read as the paper's 9
