"""The portal's session on a real Redis: tokens renewed once for calls that find them expired at once (in
threads and in two processes' keepers), a refused renewal ending the session, cookies and headers, a
double POST done once, and a form kept across a new login only when it came from our own pages."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask import Blueprint, redirect, request

from services.portal.client import SessionEnded
from services.portal.settings import PortalSettings
from services.portal.tokens import TokenKeeper, Tokens

pytestmark = pytest.mark.integration


class Identity:
    """A stand-in identity: /auth/refresh trades each refresh token once (slowly), /auth/me answers."""

    def __init__(self) -> None:
        self.refreshes: list[str] = []
        self.lock = threading.Lock()
        this = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                if self.path == "/auth/refresh":
                    time.sleep(0.2)  # long enough for the other callers to arrive meanwhile
                    with this.lock:
                        used = body["refresh_token"] in this.refreshes or body["refresh_token"] == "revoked"
                        this.refreshes.append(body["refresh_token"])
                        n = len(this.refreshes)
                    if used:
                        return self._answer(401, {"code": "refresh_token_invalid"})
                    return self._answer(
                        200, {"access_token": f"access-{n}", "refresh_token": f"refresh-{n}", "expires_in": 900}
                    )
                self._answer(404, {"code": "not_found"})

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def identity() -> Iterator[Identity]:
    found = Identity()
    yield found
    found.stop()


@pytest.fixture(scope="module")
def app(redis_url: str, identity: Identity) -> Any:
    from services.portal.app import create_app
    from services.portal.security import once

    settings = PortalSettings(
        service_urls={"identity": identity.url},
        redis_url=redis_url,
        secret_key="integration",
        secure_cookies=True,
        log_format="console",
        log_level="WARNING",
    )
    app = create_app(settings)
    app.testing = True
    done: list[str] = []
    bp = Blueprint("probe", __name__)

    @bp.route("/probe/form", methods=["GET", "POST"])
    def form() -> Any:  # the shape of an area's form view, with the decorator every area uses
        from flask import render_template_string

        if request.method == "GET":
            return render_template_string(
                '<form method="post"><input type="hidden" name="csrf_token" value="{{ csrf_token() }}">'
                "{{ form_token() }}</form>"
            )
        return _save()

    @once
    def _save() -> Any:
        time.sleep(0.3)
        done.append(request.form["name"])
        return redirect(f"/probe/saved/{len(done)}", 303)

    bp.add_url_rule("/probe/saved/<int:n>", "saved", lambda n: str(n))
    from services.portal.auth import public

    app.register_blueprint(bp)
    for endpoint in ("probe.form", "probe.saved"):
        public(app.view_functions[endpoint])
    app.extensions["probe.done"] = done
    return app


def keeper(app: Any, key: str) -> TokenKeeper:
    from services.portal.tokens import keeper_for

    with app.app_context():
        return keeper_for(key)


def test_calls_that_find_the_token_expired_at_once_renew_it_once(app, identity):
    first, second = keeper(app, "s1"), keeper(app, "s1")  # two processes' keepers of one session
    first.save(Tokens("old-access", "refresh-0", time.time() - 1))
    before = len(identity.refreshes)
    got: list[str] = []
    threads = [threading.Thread(target=lambda k=k: got.append(k.renew("old-access"))) for k in [first, second] * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert identity.refreshes[before:] == ["refresh-0"]  # each refresh token is traded once
    assert len(got) == 8 and len(set(got)) == 1 and got[0].startswith("access-")
    assert second.load().access_token == got[0]  # type: ignore[union-attr]


def test_a_refused_renewal_ends_the_session_here(app):
    k = keeper(app, "s2")
    k.save(Tokens("old", "revoked", time.time() - 1))
    with pytest.raises(SessionEnded):
        k.access_token()
    k.ended()
    assert k.load() is None


def test_cookies_are_httponly_lax_and_secure_and_pages_carry_the_security_headers(app):
    client = app.test_client()
    page = client.get("/login")
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("pumpurs_session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" in cookie
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert "<script>" not in page.get_data(as_text=True)  # no inline script anywhere
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert token and 'hx-headers=\'{"X-CSRFToken": "' in page.get_data(as_text=True)


def test_the_same_form_sent_twice_is_done_once_and_both_land_in_the_same_place(app):
    client = app.test_client()
    html = client.get("/probe/form").get_data(as_text=True)
    data = {
        "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', html).group(1),  # type: ignore[union-attr]
        "form_token": re.search(r'name="form_token" value="([^"]+)"', html).group(1),  # type: ignore[union-attr]
        "name": "Anna",
    }
    done = app.extensions["probe.done"]
    before = len(done)
    answers: list[Any] = []
    threads = [threading.Thread(target=lambda: answers.append(client.post("/probe/form", data=data))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(done) == before + 1
    assert {a.status_code for a in answers} == {303} and len({a.headers["Location"] for a in answers}) == 1
    again = client.post("/probe/form", data=data)  # a resend later: the same place, nothing done
    assert again.headers["Location"] == answers[0].headers["Location"] and len(done) == before + 1


def test_a_post_after_the_session_ended_keeps_its_form_for_the_next_login_only_from_our_own_pages(app):
    client = app.test_client()
    sent = client.post(
        "/account",
        data={"full_name": "Anna Liepa", "password": "never-kept"},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    assert sent.status_code == 303 and sent.headers["Location"].startswith("/login?next=%2Faccount")
    with client.session_transaction() as s:
        assert s["pending_form"]["path"] == "/account"
        assert s["pending_form"]["values"] == {"full_name": ["Anna Liepa"]}  # never a password
    login = client.get("/login").get_data(as_text=True)
    assert "ir saglabāts" in login

    planted = app.test_client()
    planted.post("/account", data={"full_name": "Uzbrucējs"}, headers={"Sec-Fetch-Site": "cross-site"})
    with planted.session_transaction() as s:
        assert "pending_form" not in s
