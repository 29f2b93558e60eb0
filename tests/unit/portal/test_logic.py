"""The portal's own logic: problems mapped to fields in words, Latvian formats, the client's answers and
errors (against a local HTTP server), the macros' markup, and every e-mail link path resolving."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask import render_template_string
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from services.notifications import catalogue
from services.portal.client import ApiProblem, Client, ServiceUnavailable, Transport
from services.portal.links import LINKS
from services.portal.problems import FormMapping, Message, form_errors, register_codes

pytestmark = pytest.mark.unit


def problem(code: str, status: int = 422, **body: Any) -> ApiProblem:
    return ApiProblem(
        service="plans",
        status=status,
        code=code,
        detail=body.pop("detail", ""),
        detail_lv=body.pop("detail_lv", ""),
        errors=body.pop("errors", {}),
        body=body,
    )


# ---- error mapping ---------------------------------------------------------------------------------


def test_a_code_an_area_registered_lands_under_its_field_in_words(portal_app: Any) -> None:
    register_codes({"personal_code_checksum": Message("personal_code", _l("Check the personal code: it has a typo."))})
    found = problem(
        "personal_code_checksum",
        detail="The check digit does not match.",
        errors={"personal_code": ["check digit mismatch"], "grade": ["Not a valid integer."]},
    )
    with portal_app.test_request_context(), force_locale("en"):
        errors = form_errors(found, known_fields={"personal_code", "grade"})
    assert errors.by_field == {
        "personal_code": ["Check the personal code: it has a typo."],
        "grade": ["Enter a whole number."],
    }
    assert errors.general == []


def test_a_form_s_own_mapping_wins_and_renames_api_members(portal_app: Any) -> None:
    mapping = FormMapping(
        fields={"new_password": "password"},
        codes={"password_too_short": Message("password", lambda p: f"at least {p.body['min_length']}")},
    )
    found = problem("password_too_short", errors={"new_password": ["too short"]}, min_length=12)
    with portal_app.test_request_context(), force_locale("en"):
        assert form_errors(found, mapping).by_field == {"password": ["at least 12"]}


def test_without_words_of_our_own_the_service_s_latvian_detail_is_shown(portal_app: Any) -> None:
    found = problem("semester_over", status=409, detail="The semester is over.", detail_lv="Semestris ir beidzies.")
    with portal_app.test_request_context(), force_locale("lv"):
        errors = form_errors(found)
    assert errors.general == ["Semestris ir beidzies."] and errors.by_field == {}
    with portal_app.test_request_context(), force_locale("en"):
        assert form_errors(found).general == ["The semester is over."]


def test_members_for_fields_the_form_lacks_go_to_the_summary_with_their_name(portal_app: Any) -> None:
    found = problem(
        "invalid_input", errors={"email": ["Not a valid email address."], "tenant_id": ["Not a valid UUID."]}
    )
    with portal_app.test_request_context(), force_locale("lv"):
        errors = form_errors(found, known_fields={"email"})
    assert errors.by_field == {"email": ["Ievadiet e-pasta adresi, piemēram, vards@example.lv."]}
    assert errors.general == ["tenant_id: Izvēlieties vienu no iespējām."]


def test_one_code_cannot_be_registered_with_two_meanings() -> None:
    register_codes({"unit_test_code": Message("a", "one")})
    register_codes({"unit_test_code": Message("a", "one")})  # the same again is fine (a module reloaded)
    with pytest.raises(ValueError, match="mapped twice"):
        register_codes({"unit_test_code": Message("b", "other")})


# ---- formats ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "lv", "en"),
    [
        ("{{ d|date }}", "2026. gada 2. decembris", "December 2, 2026"),
        ("{{ m|money }}", "1\xa0234,50\xa0€", "€1,234.50"),
        ("{{ 900|duration }}", "pēc 15 minūtēm", "in 15 minutes"),
        ("{{ '2026-10'|month }}", "2026. gada oktobris", "October 2026"),
        ("{{ t|datetime }}", "2026. gada 2. decembris 16:05", "December 2, 2026 16:05"),
        ("{{ ngettext('unread message', 'unread messages', 21) }}", "nelasīta ziņa", "unread messages"),
        ("{{ ngettext('unread message', 'unread messages', 3) }}", "nelasītas ziņas", "unread messages"),
    ],
)
def test_dates_money_and_waits_in_latvian_and_english(portal_app: Any, source: str, lv: str, en: str) -> None:
    values = {"d": "2026-12-02", "m": "1234.5", "t": "2026-12-02T14:05:00+00:00"}
    for language, expected in (("lv", lv), ("en", en)):
        with portal_app.test_request_context(), force_locale(language):
            assert render_template_string(source, **values) == expected


# ---- macros ----------------------------------------------------------------------------------------


def test_the_error_summary_links_each_field_and_the_field_carries_its_error(portal_app: Any) -> None:
    from services.portal.forms import FormState

    form = FormState({"email": "anna@"})
    form.errors.add("email", "Ievadiet e-pasta adresi.")
    form.errors.add(None, "Konts bloķēts.")
    page = "{{ ui.error_summary(form.errors) }}{{ ui.field(form, 'email', 'E-pasts', hint='Darba adrese') }}"
    with portal_app.test_request_context():
        html = render_template_string(page, form=form)
    assert '<a href="#f-email">Ievadiet e-pasta adresi.</a>' in html and "<li>Konts bloķēts.</li>" in html
    assert 'id="f-email"' in html and 'value="anna@"' in html and 'aria-invalid="true"' in html
    assert 'aria-describedby="f-email-hint f-email-error"' in html
    assert '<label class="label" for="f-email">E-pasts</label>' in html


def test_a_password_is_never_written_back_into_a_form(portal_app: Any) -> None:
    from services.portal.forms import FormState

    with portal_app.test_request_context(method="POST", data={"email": "a@b.lv", "password": "secret-1"}):
        form = FormState.from_request()
        html = render_template_string("{{ ui.field(form, 'password', 'P', type='password') }}", form=form)
    assert "password" not in form.values and "secret-1" not in html


def test_status_tags_use_the_plan_statuses_latvian_names(portal_app: Any) -> None:
    with portal_app.test_request_context(), force_locale("lv"):
        html = render_template_string(
            "{% for s in statuses %}{{ ui.status_tag(s) }}{% endfor %}",
            statuses=["draft", "in_approval", "approved", "in_progress", "suspended", "under_review", "inactive"],
        )
    for name in ("Projekts", "Saskaņošanā", "Apstiprināts", "Īstenošanā", "Apturēts", "Pārskatīšanā", "Neaktīvs"):
        assert f">{name}</strong>" in html


def test_pagination_keeps_the_list_s_address_and_marks_the_current_page(portal_app: Any) -> None:
    with portal_app.test_request_context(), force_locale("en"):
        html = render_template_string(
            "{{ ui.pagination(3, 20, 200, url) }}", url=lambda n: f"/students?q=liepa&page={n}"
        )
    assert 'href="/students?q=liepa&amp;page=3" aria-current="page"' in html
    assert 'href="/students?q=liepa&amp;page=2" rel="prev"' in html and 'rel="next"' in html


# ---- every link notifications makes opens a page here -------------------------------------------------


def test_every_link_path_notifications_makes_resolves_in_the_portal(portal_app: Any) -> None:
    some = str(uuid.uuid4())
    made = {
        catalogue.link(
            "",
            kind.ref_type,
            some,
            {
                "month": "2026-10-01",
                "tenant_id": some,
                "school_id": some,
                "document_id": some if kind.ref_type == "statement" else None,
                "service": "finance",
            },
        )
        for kind in catalogue.KINDS.values()
    }
    made.add(catalogue.link("", "statement", some, {}))  # a statement not yet stored as a document
    made |= {"/preferences", "/inbox"}  # the e-mails' footer, the header's count
    from services.common.account_links import link_url

    made |= {link_url("", "k", some, purpose) for purpose in ("invitation", "password_reset")}
    adapter = portal_app.url_map.bind("portal.test")
    for link in sorted(x for x in made if x):
        path = link.split("?", 1)[0]
        endpoint, _args = adapter.match(path, method="GET")
        assert endpoint != "static", link
    assert {x.endpoint for x in LINKS} <= set(portal_app.view_functions)


# ---- the client, against a local server --------------------------------------------------------------


class Fake:
    """A stand-in service on 127.0.0.1 answering by path; counts requests in flight at once."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.most = 0
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with fake.lock:
                    fake.in_flight += 1
                    fake.most = max(fake.most, fake.in_flight)
                try:
                    if self.path.startswith("/slow"):
                        time.sleep(0.3)
                    status, body, ctype = fake.answer(self.path, self.headers)
                finally:
                    with fake.lock:
                        fake.in_flight -= 1
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                if status == 429:
                    self.send_header("Retry-After", "42")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path: str, headers: Any) -> tuple[int, Any, str]:
        if path.startswith("/slow"):
            return 200, {"path": path, "auth": headers.get("Authorization")}, "application/json"
        if path == "/limited":
            return 429, {"code": "too_many_attempts", "detail_lv": "Pārāk daudz."}, "application/problem+json"
        if path == "/busy":
            return 503, {"code": "unavailable"}, "application/problem+json"
        return (
            404,
            {"code": "not_found", "errors": {"a": {"b": ["x"]}, "c": [{"d": ["y"]}]}},
            "application/problem+json",
        )

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def fake() -> Iterator[Fake]:
    f = Fake()
    yield f
    f.stop()


class Keeper:
    def access_token(self) -> str:
        return "tok-1"


def test_a_page_s_calls_run_at_once_with_the_person_s_token(fake: Fake) -> None:
    client = Client(Transport({"plans": fake.url}, 1.0, 5.0, workers=4), Keeper(), {})
    found = client.gather(**{f"n{i}": client.call("GET", "plans", f"/slow/{i}") for i in range(3)})
    assert [found[f"n{i}"]["path"] for i in range(3)] == ["/slow/0", "/slow/1", "/slow/2"]
    assert {v["auth"] for v in found.values()} == {"Bearer tok-1"}
    assert fake.most >= 2  # they were in the service at the same time


def test_a_refusal_is_a_typed_problem_and_a_service_away_is_unavailable(fake: Fake) -> None:
    client = Client(Transport({"plans": fake.url, "finance": "http://127.0.0.1:9"}, 0.5, 2.0, workers=2), None, {})
    with pytest.raises(ApiProblem) as info:
        client.get("plans", "/limited")
    assert (info.value.status, info.value.code, info.value.retry_after, info.value.detail_lv) == (
        429,
        "too_many_attempts",
        42,
        "Pārāk daudz.",
    )
    with pytest.raises(ApiProblem) as missing:
        client.get("plans", "/nothing")
    assert missing.value.field_messages() == {"a.b": ["x"], "c.0.d": ["y"]}
    for service, path in (("plans", "/busy"), ("finance", "/x"), ("documents", "/x")):
        with pytest.raises(ServiceUnavailable) as away:
            client.get(service, path)
        assert away.value.service == service


def test_an_optional_part_that_fails_comes_back_as_its_error(fake: Fake) -> None:
    client = Client(Transport({"plans": fake.url, "finance": "http://127.0.0.1:9"}, 0.5, 2.0, workers=2), None, {})
    found = client.gather(
        optional=("money",), plan=client.call("GET", "plans", "/slow/1"), money=client.call("GET", "finance", "/x")
    )
    assert found["plan"]["path"] == "/slow/1" and isinstance(found["money"], ServiceUnavailable)
    with pytest.raises(ServiceUnavailable):
        client.gather(plan=client.call("GET", "plans", "/slow/1"), money=client.call("GET", "finance", "/x"))


def test_a_locked_account_and_too_many_attempts_say_how_long_to_wait_in_words(portal_app: Any) -> None:
    locked = problem("account_locked", status=423)
    locked.retry_after = 900
    limited = problem("too_many_attempts", status=429)
    limited.retry_after = 40
    wrong = problem("invalid_credentials", status=401)
    with portal_app.test_request_context(), force_locale("lv"):
        assert form_errors(locked).general == [
            "Pārāk daudz neveiksmīgu pieteikšanās mēģinājumu: konts ir bloķēts. Mēģiniet vēlreiz pēc 15 minūtēm "
            "vai lūdziet administratoram to atbloķēt."
        ]
        assert form_errors(limited).general == ["Pārāk daudz neveiksmīgu mēģinājumu. Mēģiniet vēlreiz pēc 40 sekundēm."]
        assert form_errors(wrong).by_field == {"password": ["Nepareiza e-pasta adrese vai parole."]}
    with portal_app.test_request_context(), force_locale("en"):
        assert form_errors(limited).general == ["Too many failed attempts. Try again in 40 seconds."]
