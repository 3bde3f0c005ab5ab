"""The demo's packaged config and the command's wiring."""

from __future__ import annotations

from pathlib import Path

from hadamard_restore.workflows.demo import demo_config

REPO = Path(__file__).resolve().parents[2]


def test_packaged_demo_config_is_the_repository_copy():
    packaged = REPO / "src" / "hadamard_restore" / "resources" / "configs" / "demo.yaml"
    assert packaged.read_text() == (REPO / "configs" / "demo.yaml").read_text(), (
        "configs/demo.yaml changed: copy it to src/hadamard_restore/resources/configs/demo.yaml"
    )


def test_demo_config_uses_built_in_data_and_takes_overrides():
    cfg = demo_config(["train.steps=7"])
    assert cfg.data.source == "demo" and cfg.train.steps == 7 and cfg.task == "low-light"
