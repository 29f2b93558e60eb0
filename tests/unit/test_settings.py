"""Common settings from the environment: the test-only duplicate-send fault cannot be switched on outside a test run."""

from __future__ import annotations

import pytest
from environs import Env

from services.common.settings import DUPLICATE_SENDS_VAR, TEST_RUN_VAR, common_values

pytestmark = pytest.mark.unit


def values(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, object]:
    for key in (DUPLICATE_SENDS_VAR, TEST_RUN_VAR):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return common_values("probe", Env(), database=False)


def test_every_message_is_sent_once_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert values(monkeypatch)["test_duplicate_sends"] is False
    assert values(monkeypatch, **{TEST_RUN_VAR: "1"})["test_duplicate_sends"] is False


def test_duplicate_sends_are_refused_outside_a_test_run(monkeypatch: pytest.MonkeyPatch) -> None:
    for flag in ({}, {TEST_RUN_VAR: "0"}, {TEST_RUN_VAR: "yes"}):
        with pytest.raises(ValueError, match=TEST_RUN_VAR):
            values(monkeypatch, **{DUPLICATE_SENDS_VAR: "1"}, **flag)


def test_duplicate_sends_are_on_only_with_the_test_run_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    assert values(monkeypatch, **{DUPLICATE_SENDS_VAR: "1", TEST_RUN_VAR: "1"})["test_duplicate_sends"] is True
