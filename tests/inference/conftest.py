"""Shared by the fast-path tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def fastpath_cache(tmp_path, monkeypatch):
    """A private cache dir, no remembered runners, and ``auto`` active even on tiny test images."""
    from hadamard_restore.inference.fastpath import choice

    monkeypatch.setenv("HADAMARD_RESTORE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(choice, "AUTO_MIN_PIXELS", 0)
    choice.forget()
    yield tmp_path / "cache" / "fastpath.json"
    choice.forget()
