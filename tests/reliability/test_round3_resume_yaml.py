"""A run's own config.yaml, read back by a resume check or by packaging, goes through the same
bounded YAML loader as a user's config: a nested-alias bomb planted in a run is refused quickly."""

from __future__ import annotations

import time

import pytest
import yaml

from hadamard_restore.training.resume_check import config_changes

BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n" for p, c in zip("abcdefgh", "bcdefghi")
)


def test_a_planted_alias_bomb_is_refused_by_the_resume_check():
    started = time.perf_counter()
    with pytest.raises(yaml.YAMLError, match="aliases"):
        config_changes(BOMB, "train:\n  steps: 2\n")
    assert time.perf_counter() - started < 5.0
