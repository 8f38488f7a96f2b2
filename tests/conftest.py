"""Fixtures every test module may use by name (pytest finds them here). Nothing heavy is imported: the GPU
machine's image runs the tests without the app's packages (bench/gpu_check.py)."""
from __future__ import annotations

import pytest


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A fresh workspace (CAPGAP_HOME) for each test: uploads and jobs never leak between tests."""
    monkeypatch.setenv("CAPGAP_HOME", str(tmp_path / "workspace"))
    return tmp_path / "workspace"
