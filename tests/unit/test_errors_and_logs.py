"""problem+json answers and log masking (no servers)."""

from __future__ import annotations

import json

import pytest
from flask import Flask

from services.common.errors import ApiError, register_error_handlers
from services.common.logging import mask_personal_codes

pytestmark = pytest.mark.unit


def _app() -> Flask:
    app = Flask("t")
    register_error_handlers(app)

    @app.get("/conflict")
    def conflict():  # type: ignore[no-untyped-def]
        raise ApiError(409, "plan_not_in_progress", "The plan is not in progress.", detail_lv="Plāns netiek īstenots.")

    @app.get("/boom")
    def boom():  # type: ignore[no-untyped-def]
        raise RuntimeError("secret internals 010101-12345")

    @app.get("/redis-down")
    def redis_down():  # type: ignore[no-untyped-def]
        import redis

        raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    @app.get("/database-down")
    def database_down():  # type: ignore[no-untyped-def]
        from sqlalchemy.exc import OperationalError

        raise OperationalError("SELECT secret", {}, Exception("connection to server at 127.0.0.1 failed"))

    return app


def test_an_api_error_is_problem_json_with_a_stable_code_in_both_languages():
    resp = _app().test_client().get("/conflict")
    assert resp.status_code == 409 and resp.mimetype == "application/problem+json"
    body = resp.get_json()
    assert body["code"] == "plan_not_in_progress" and body["detail_lv"] == "Plāns netiek īstenots."
    assert body["title"] and body["title_lv"] and body["instance"] == "/conflict"


def test_an_unexpected_error_is_a_500_problem_without_internals():
    resp = _app().test_client().get("/boom")
    assert resp.status_code == 500 and resp.mimetype == "application/problem+json"
    assert "secret" not in resp.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/redis-down", "/database-down"])
def test_a_database_or_broker_away_is_a_503_to_retry_without_internals(path):
    resp = _app().test_client().get(path)
    assert resp.status_code == 503 and resp.mimetype == "application/problem+json"
    body = resp.get_json()
    assert body["code"] == "unavailable" and body["detail_lv"] and resp.headers["Retry-After"] == "5"
    assert "secret" not in resp.get_data(as_text=True) and "127.0.0.1" not in resp.get_data(as_text=True)


def test_an_unknown_route_is_a_404_problem():
    resp = _app().test_client().get("/nowhere")
    assert resp.status_code == 404 and resp.get_json()["code"] == "not_found"


@pytest.mark.parametrize("code", ["010101-12345", "01010112345", "32123456789"])
def test_personal_codes_are_masked_in_log_events(code):
    event = mask_personal_codes(None, "info", {"event": f"student {code}", "extra": {"nested": [code]}})
    assert code not in json.dumps(event)


def test_ordinary_numbers_are_not_masked():
    event = mask_personal_codes(None, "info", {"event": "amount 1234.56, year 2026, id 123456"})
    assert event["event"] == "amount 1234.56, year 2026, id 123456"
