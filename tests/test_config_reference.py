"""The configuration reference: generated from the pydantic models, complete, and docs/config.md in sync."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from hadamard_restore import config_reference
from hadamard_restore.cli.app import app
from hadamard_restore.config import RunConfig

DOCS = Path(__file__).resolve().parents[1] / "docs" / "config.md"
runner = CliRunner()


def _leaves(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_leaves(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def test_docs_config_md_is_the_generated_reference():
    assert DOCS.read_text() == config_reference.markdown(), (
        f"docs/config.md is stale: regenerate it with `{config_reference.REGENERATE}` and commit it"
    )


def test_every_key_is_listed_with_its_default_and_a_description():
    defaults = _leaves(RunConfig().model_dump(mode="json"))
    listed = {k.name: k for k in config_reference.keys()}
    assert set(listed) == set(defaults)
    for name, key in listed.items():
        assert key.description, f"{name} has no description (add description= to its Field)"
        assert key.default == config_reference.yaml_value(defaults[name]), name


def test_config_show_prints_a_section_or_a_key():
    res = runner.invoke(app, ["config", "show", "enhance"])
    assert res.exit_code == 0, res.output
    assert "enhance.tile  (int, >= 32, <= 8192; default 512)" in res.output and "tile side used above" in res.output
    assert "train.lr" not in res.output
    res = runner.invoke(app, ["config", "show", "train.lr"])
    assert res.exit_code == 0 and res.output.count("train.") == 1 and "(float, > 0; default 0.0001)" in res.output
    res = runner.invoke(app, ["config", "show", "nope"])
    assert res.exit_code == 2 and "sections: top, data, classifier" in res.output


def test_enhance_help_shows_the_defaults():
    res = runner.invoke(app, ["enhance", "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    for text in ("512, from enhance.tile", "32, from enhance.overlap", "1048576, from enhance.max_untiled_pixels"):
        assert text in res.output


def test_type_names_spell_fixed_and_variable_length_tuples():
    assert config_reference.type_name(tuple[float, float]) == "[float, float]"
    assert config_reference.type_name(tuple[str, ...]) == "[str, ...]"
    assert config_reference.type_name(tuple[int, ...] | None) == "[int, ...] | null"
