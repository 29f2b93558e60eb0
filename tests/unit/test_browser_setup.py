"""`make browser`: the browser tests' Chromium is there, or the run stops with the command (never a skip)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.unit


def run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "devstack" / "browser.py")],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_browser_that_is_there_is_enough(tmp_path: Path) -> None:
    chromium = tmp_path / "chromium"
    chromium.write_text("#!/bin/sh\n")
    chromium.chmod(0o755)
    assert run({"PUMPURS_CHROMIUM": str(chromium)}).returncode == 0


def test_a_missing_browser_named_by_the_setting_fails_with_the_command(tmp_path: Path) -> None:
    done = run({"PUMPURS_CHROMIUM": str(tmp_path / "nowhere"), "CI": "true"})
    assert done.returncode == 1
    assert "PUMPURS_CHROMIUM" in done.stderr
