"""What every area gets from the foundation: another tenant's record looks missing, a service away gives a
page naming the part, e-mail links open after a login."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from devstack.run import _png
from tests.e2e.client import PASSWORD
from tests.support.browser import check_a11y

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def upload(portal: Any, person: Any) -> str:
    made = portal.api.upload(
        person,
        _png(),
        "bilete.png",
        kind="transport_ticket",
        student_id=str(uuid.uuid4()),
        plan_id=str(uuid.uuid4()),
        category="public_transport",
        month=time.strftime("%Y-%m"),
        amount="4.20",
    )
    return str(made["id"])


def test_another_tenant_s_record_looks_exactly_like_a_missing_one(people, portal, person_page, new_context):
    ours, theirs = people.person(login=True), people.person()
    document = upload(portal, ours)

    stranger = person_page(theirs)
    stranger.goto(f"/documents/{document}")
    assert stranger.get_by_role("heading", level=1).inner_text() == "Lapa nav atrasta"
    foreign = stranger.locator("main").inner_text()
    check_a11y(stranger, "not-found")
    response = stranger.goto(f"/documents/{uuid.uuid4()}")
    assert response is not None and response.status == 404
    assert stranger.locator("main").inner_text() == foreign

    # the owner, following the link from an e-mail before logging in, lands on it after the login
    page = new_context().new_page()
    page.goto(f"/documents/{document}")
    assert "/login?next=" in page.url
    page.get_by_label("E-pasta adrese").fill(ours.email)
    page.get_by_label("Parole").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Pieteikties").click()
    assert page.url.endswith(f"/documents/{document}")
    assert page.get_by_role("heading", level=1).inner_text() == "Dokuments"
    check_a11y(page, "document-from-link")


def test_a_service_that_is_away_gives_a_page_that_names_the_part(people, portal, person_page):
    person = people.person()
    page = person_page(person)
    launcher = portal.launcher
    child = launcher.child("notifications-api")
    with launcher.lock:  # stopped, and kept stopped until the test starts it again
        child.stop()
        child.proc, child.next_start = None, time.monotonic() + 3600
    try:
        page.goto("/")
        main = page.locator("main").inner_text()
        assert main.startswith("Labdien,")  # the rest of the home page is there
        assert "“ziņas un iesūtne” nav pieejams" in main
        check_a11y(page, "home-part-away")
        response = page.goto("/inbox")
        assert response is not None and response.status == 503
        assert page.get_by_role("heading", level=1).inner_text() == "Atvainojiet, šī daļa pašlaik nav pieejama"
        assert "“ziņas un iesūtne” pašlaik neatbild" in page.locator("main").inner_text()
        assert "Traceback" not in page.content()
        check_a11y(page, "unavailable")
    finally:
        with launcher.lock:
            child.next_start = 0.0
        portal.wait_serving(["notifications-api"])
    page.goto("/inbox")
    assert page.get_by_role("heading", level=1).inner_text() == "Iesūtne"
    check_a11y(page, "inbox-fallback")
