"""Shared fixtures: an isolated cache and data environment for every test."""
import pytest


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory, monkeypatch):
    """No test reads the developer's ~/.cache/bakeoff or $BAKEOFF_DATA by accident."""
    cache = tmp_path_factory.mktemp("xdg-cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.delenv("BAKEOFF_DATA", raising=False)
    return cache
