"""Issue 13: a body over the limit answers 413 problem+json before it is parsed, on every service; uploads
have their own, larger limit. (Under gunicorn, with bodies never sent whole: tests/integration/documents/
test_deployed.py.)"""

from __future__ import annotations

import importlib
import io
import json
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder

from services.common.openapi import _offline_settings, services_with_api
from services.common.settings import Settings, common_values

pytestmark = pytest.mark.unit

ONE_MIB = 1024 * 1024
# a JSON route of each service (no token: the size is judged first, so nothing about the caller is needed)
ROUTES = {
    "identity": "/users",
    "plans": "/plans",
    "documents": "/admin/dead-letters/00000000-0000-0000-0000-000000000000/replay",
    "finance": "/statements",
    "notifications": "/webhooks",
}


def _app(service: str, **changes: Any) -> Any:
    settings_mod = importlib.import_module(f"services.{service}.settings")
    cls = next(
        v for v in vars(settings_mod).values() if isinstance(v, type) and issubclass(v, Settings) and v is not Settings
    )
    settings = _offline_settings(service, cls).replace(**changes)
    return importlib.import_module(f"services.{service}.app").create_app(settings)


def _call(app: Any, path: str, body: bytes, *, chunked: bool = False, **headers: str) -> tuple[int, dict[str, Any]]:
    builder = EnvironBuilder(path=path, method="POST", headers={"Content-Type": "application/json", **headers})
    env = builder.get_environ()
    env["wsgi.input"] = io.BytesIO(body)
    if chunked:  # as gunicorn hands a chunked body on: no length, the server ends the stream
        env.pop("CONTENT_LENGTH", None)
        env["wsgi.input_terminated"] = True
    else:
        env["CONTENT_LENGTH"] = str(len(body))
    status: list[str] = []
    out = b"".join(app(env, lambda s, h, e=None: status.append(s)))
    return int(status[0].split()[0]), json.loads(out)


@pytest.mark.parametrize("service", services_with_api())
def test_every_service_answers_413_for_a_body_over_its_limit_before_parsing_it(service):
    app = _app(service)
    big = b'{"x": "' + b"a" * ONE_MIB + b'"}'
    status, problem = _call(app, ROUTES[service], big)  # judged by its length, before even the token
    assert status == 413, (service, problem)
    assert problem["code"] == "payload_too_large" and problem["max_bytes"] == ONE_MIB
    assert problem["detail_lv"] and problem["title_lv"]
    # within the limit the body goes on to be judged as before (here: no token)
    status, problem = _call(app, ROUTES[service], b'{"x": 1}')
    assert status == 401 and problem["code"] == "unauthenticated"


def test_a_body_without_a_length_is_refused_once_reading_it_passes_the_limit():
    """werkzeug's own cap cut a chunked body short quietly: it was parsed as broken JSON (400), not refused."""
    app = _app("identity")
    status, problem = _call(app, "/auth/login", b'{"email": "' + b"a" * ONE_MIB, chunked=True)
    assert status == 413 and problem["code"] == "payload_too_large"
    status, problem = _call(app, "/auth/login", b'{"email": "not an e-mail"}', chunked=True)
    assert status == 422 and problem["code"] == "invalid_input"  # a small one is read whole, as before


def test_the_limit_is_a_setting_per_service_and_uploads_have_their_own(monkeypatch):
    monkeypatch.setenv("MAX_REQUEST_BYTES", "2048")
    monkeypatch.setenv("FINANCE_MAX_REQUEST_BYTES", "4096")
    assert common_values("plans", database=False)["max_request_bytes"] == 2048
    assert common_values("finance", database=False)["max_request_bytes"] == 4096
    small = _app("documents", max_request_bytes=100)
    assert _call(small, ROUTES["documents"], b"{" * 101)[0] == 413
    # an upload of 5 MB fits its own limit (the file's limit and room for the form): judged by its token next
    upload = b"--b\r\n" + bytes(5 * ONE_MIB)
    status, problem = _call(small, "/documents", upload, **{"Content-Type": "multipart/form-data; boundary=b"})
    assert status == 401, problem
    status, problem = _call(small, "/documents", upload + bytes(16 * ONE_MIB))
    assert status == 413 and problem["code"] == "file_too_large" and problem["max_bytes"] == 20 * ONE_MIB
