"""A step that runs long says so while it runs and when it ends; a quick one says nothing."""

from __future__ import annotations

import logging
import time

from hadamard_restore.runtime.slow import notice_if_slow


def test_a_slow_step_is_announced_and_its_time_reported(caplog):
    with caplog.at_level(logging.INFO, logger="hadamard_restore"):
        with notice_if_slow("checking things", after=0.05):
            time.sleep(0.3)
            assert any("checking things (more than 0 s so far)" in r.getMessage() for r in caplog.records)
    assert caplog.records[-1].getMessage().startswith("checking things: done in 0.")


def test_a_quick_step_says_nothing(caplog):
    with caplog.at_level(logging.INFO, logger="hadamard_restore"):
        with notice_if_slow("quick", after=1.0):
            pass
        time.sleep(1.2)  # the timer was cancelled: nothing comes later either
    assert not caplog.records
