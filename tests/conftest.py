"""Shared fixtures: an isolated cache and data environment for every test."""
import os

# Before any test module imports torch (bakeoff sets the same on import, but a test may import torch
# first): OpenMP threads sleep when idle, so the suite's subprocesses do not starve each other's cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory, monkeypatch):
    """No test reads the developer's ~/.cache/bakeoff or $BAKEOFF_DATA by accident."""
    cache = tmp_path_factory.mktemp("xdg-cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.delenv("BAKEOFF_DATA", raising=False)
    return cache
