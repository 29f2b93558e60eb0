"""A person's account in the browser: log in (keyboard alone), out, the language, an invitation, a forgotten
password, a password change, where they are logged in, and a form kept across a session that ended.

Every page is checked by axe (WCAG 2.1 A and AA) and photographed to .var/test/screenshots/.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

import pytest

from devstack.smtp_sink import read_messages
from tests.e2e.client import PASSWORD
from tests.support.browser import check_a11y, log_in, mail_link
from tests.support.workers import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NEW_PASSWORD = "jauna-parole-pavasaris-7"


def mail_to(portal: Any, address: str, kind: str, after: float = 0.0) -> Any:
    def found() -> Any:
        for message in read_messages(portal.sink):
            to = str(message["X-Envelope-To"] or "").lower()
            if address.lower() in to and message["X-PuMPuRS-Kind"] == kind:
                return message
        return None

    return wait_for(found, timeout=60, interval=0.3, message=f"a {kind} mail to {address}")


def focus_with_tab(page: Any, element_id: str, presses: int = 15) -> None:
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement && document.activeElement.id") == element_id:
            return
    raise AssertionError(f"Tab never reached #{element_id}")


def test_a_wrong_password_shows_under_its_field_and_the_keyboard_alone_logs_in(people, new_context):
    person = people.person()
    page = new_context().new_page()
    page.goto("/")
    assert "/login?next=%2F" in page.url
    assert page.locator("html").get_attribute("lang") == "lv"
    check_a11y(page, "login")

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Pāriet uz galveno saturu")
    assert skip.evaluate("el => el === document.activeElement")
    focus_with_tab(page, "f-email")
    page.keyboard.type(person.email)
    page.keyboard.press("Tab")
    page.keyboard.type("nepareiza-parole-1")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("#f-password-error").inner_text().endswith("Nepareiza e-pasta adrese vai parole.")
    summary = page.get_by_role("alert").get_by_role("link", name="Nepareiza e-pasta adrese vai parole.")
    assert summary.get_attribute("href") == "#f-password"
    assert page.get_by_label("E-pasta adrese").input_value() == person.email  # kept as typed
    assert page.get_by_label("Parole").input_value() == ""  # a password is never sent back
    check_a11y(page, "login-wrong-password")

    focus_with_tab(page, "f-password")
    page.keyboard.type(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Labdien, Anna Bērziņa")
    assert "Skolas koordinators" in page.locator("main").inner_text()
    assert "nelasītu ziņu" in page.locator("main").inner_text()  # the inbox count: 0
    check_a11y(page, "home")


def test_logging_out_ends_the_session_in_identity_too(people, person_page, portal):
    person = people.person(login=True)  # an API session of its own, to look with
    page = person_page(person)
    mine = portal.api.get("identity", "/auth/sessions", as_=person)
    browser_sessions = [s for s in mine if s["device"] and "Chrome" in s["device"]]
    assert len(browser_sessions) == 1
    with page.expect_navigation():
        page.get_by_role("button", name="Iziet").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Jūs esat izgājis"
    check_a11y(page, "logged-out")
    left = portal.api.get("identity", "/auth/sessions", as_=person)
    assert [s["id"] for s in left] == [s["id"] for s in mine if s not in browser_sessions]
    page.goto("/account")
    assert "/login" in page.url


def test_the_language_switch_is_remembered_before_and_after_logging_in(people, new_context):
    person = people.person()
    context = new_context()
    page = context.new_page()
    page.goto("/login")
    with page.expect_navigation():
        page.get_by_role("button", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", level=1).inner_text() == "Log in"
    check_a11y(page, "login-en")
    page.get_by_label("E-mail address").fill(person.email)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("heading", level=1).inner_text().startswith("Hello,")
    with page.expect_navigation():
        page.get_by_role("button", name="Log out").click()

    elsewhere = new_context().new_page()  # another browser: no cookie, identity remembers
    elsewhere.goto("/login")
    assert elsewhere.locator("html").get_attribute("lang") == "lv"
    log_in(elsewhere, person.email)
    assert elsewhere.locator("html").get_attribute("lang") == "en"
    with elsewhere.expect_navigation():
        elsewhere.get_by_role("button", name="Latviešu").click()
    assert elsewhere.get_by_role("heading", level=1).inner_text().startswith("Labdien,")


def test_an_invitation_mail_lets_the_new_person_choose_a_password_and_log_in(people, portal, new_context):
    place = people.place()
    email = f"ielugts-{secrets.token_hex(3)}@browser.test"
    people.as_admin(
        "POST",
        "identity",
        "/users",
        json={
            "email": email,
            "full_name": "Jānis Ozols",
            "tenant_id": place.tenant_id,
            "invite": True,
            "roles": [{"role": "teacher", "tenant_id": place.tenant_id, "school_id": place.school_id}],
        },
    )
    message = mail_to(portal, email, "account_invitation")
    assert message["Subject"].startswith("Ielūgums PuMPuRS platformā")
    link = mail_link(message)
    assert link.startswith(portal.urls["portal"] + "/account/invitation/")
    page = new_context().new_page()
    page.goto(link)
    assert "token=" not in page.url  # the secret leaves the address bar at once
    assert page.get_by_role("heading", level=1).inner_text() == "Laipni lūdzam, Jānis Ozols"
    check_a11y(page, "invitation")
    page.get_by_label("Jaunā parole", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Jaunā parole vēlreiz").fill("cita-parole-pavisam-8")
    with page.expect_navigation():
        page.get_by_role("button", name="Saglabāt paroli").click()
    assert page.locator("#f-password_again-error").inner_text().endswith("Abas paroles nesakrīt.")
    check_a11y(page, "invitation-mismatch")
    page.get_by_label("Jaunā parole", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Jaunā parole vēlreiz").fill(NEW_PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Saglabāt paroli").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Jūsu parole ir saglabāta"
    check_a11y(page, "password-set")
    page.goto(link)  # a second use
    assert page.get_by_role("heading", level=1).inner_text() == "Šo saiti nevar izmantot"
    check_a11y(page, "link-used")
    log_in(page, email, NEW_PASSWORD)
    assert page.get_by_role("heading", level=1).inner_text() == "Labdien, Jānis Ozols"


def test_a_forgotten_password_is_reset_by_mail_and_every_old_session_ends(people, portal, person_page, new_context):
    person = people.person()
    old = person_page(person)
    page = new_context().new_page()
    page.goto("/login")
    with page.expect_navigation():
        page.get_by_role("link", name="Aizmirsāt paroli?").click()
    check_a11y(page, "forgot")
    page.get_by_label("E-pasta adrese").fill(person.email)
    with page.expect_navigation():
        page.get_by_role("button", name="Nosūtīt saiti").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Pārbaudiet e-pastu"
    check_a11y(page, "forgot-sent")
    # an address without an account gets the very same page
    page.goto("/account/forgot-password")
    page.get_by_label("E-pasta adrese").fill(f"neviens-{secrets.token_hex(3)}@browser.test")
    with page.expect_navigation():
        page.get_by_role("button", name="Nosūtīt saiti").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Pārbaudiet e-pastu"

    page.goto(mail_link(mail_to(portal, person.email, "password_reset")))
    assert page.get_by_role("heading", level=1).inner_text() == "Izveidojiet jaunu paroli"
    check_a11y(page, "reset")
    page.get_by_label("Jaunā parole", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Jaunā parole vēlreiz").fill(NEW_PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Saglabāt jauno paroli").click()
    assert "Visas jūsu konta sesijas ir beigtas" in page.locator("main").inner_text()

    old.reload()
    assert "/login" in old.url
    assert "Jūsu sesija ir beigusies" in old.locator("main").inner_text()
    log_in(old, person.email, NEW_PASSWORD)
    assert old.get_by_role("heading", level=1).inner_text().startswith("Labdien,")


def test_a_person_changes_their_password_and_sees_a_wrong_one_under_its_field(people, person_page):
    person = people.person()
    page = person_page(person)
    page.goto("/account")
    check_a11y(page, "account")
    with page.expect_navigation():
        page.get_by_role("link", name="Paroles maiņa").click()
    page.get_by_label("Pašreizējā parole").fill("nav-ta-parole-123")
    page.get_by_label("Jaunā parole", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Jaunā parole vēlreiz").fill(NEW_PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Mainīt paroli").click()
    assert page.locator("#f-current_password-error").inner_text().endswith("Pašreizējā parole ir nepareiza.")
    check_a11y(page, "password-wrong-current")
    page.get_by_label("Pašreizējā parole").fill(PASSWORD)
    page.get_by_label("Jaunā parole", exact=True).fill("īsa")
    page.get_by_label("Jaunā parole vēlreiz").fill("īsa")
    with page.expect_navigation():
        page.get_by_role("button", name="Mainīt paroli").click()
    assert "vismaz 12 rakstzīmes" in page.locator("#f-new_password-error").inner_text()
    page.get_by_label("Pašreizējā parole").fill(PASSWORD)
    page.get_by_label("Jaunā parole", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Jaunā parole vēlreiz").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Mainīt paroli").dblclick()  # a double click changes it once
    page.wait_for_url("**/account")
    assert "Jūsu parole ir nomainīta" in page.get_by_role("alert").inner_text()
    check_a11y(page, "password-changed")


def test_my_sessions_lists_where_i_am_and_ends_another(people, person_page):
    person = people.person()
    laptop, phone = person_page(person), person_page(person)
    laptop.goto("/account/sessions")
    rows = laptop.locator("tbody tr")
    assert rows.count() == 2 and rows.filter(has_text="Šī sesija").count() == 1
    check_a11y(laptop, "sessions")
    with laptop.expect_navigation():
        rows.filter(has_not_text="Šī sesija").get_by_role("button").click()
    assert "Šī sesija ir beigta." in laptop.get_by_role("alert").inner_text()
    assert laptop.locator("tbody tr").count() == 1
    phone.goto("/account")
    assert "/login" in phone.url


def test_a_form_keeps_what_was_typed_when_the_session_ended_meanwhile(people, person_page):
    person = people.person()
    desk = person_page(person)
    desk.goto("/account")
    desk.get_by_label("Jūsu vārds un uzvārds").fill("Anna Kalniņa-Bērziņa")
    other = person_page(person)  # the same person elsewhere ends every other session
    other.goto("/account/sessions")
    with other.expect_navigation():
        other.get_by_role("button", name="Beigt visas pārējās sesijas").click()

    with desk.expect_navigation():
        desk.get_by_role("button", name="Saglabāt").click()
    assert "/login" in desk.url
    assert "ir saglabāts" in desk.locator("main").inner_text()
    check_a11y(desk, "login-form-kept")
    desk.get_by_label("E-pasta adrese").fill(person.email)
    desk.get_by_label("Parole").fill(PASSWORD)
    with desk.expect_navigation():
        desk.get_by_role("button", name="Pieteikties").click()
    assert desk.url.endswith("/account")
    assert desk.get_by_label("Jūsu vārds un uzvārds").input_value() == "Anna Kalniņa-Bērziņa"
    assert "Tas, ko ievadījāt, ir atpakaļ veidlapā" in desk.locator("main").inner_text()
    check_a11y(desk, "account-restored")
    with desk.expect_navigation():
        desk.get_by_role("button", name="Saglabāt").click()
    assert desk.locator(".header__name").inner_text() == "Anna Kalniņa-Bērziņa"


def test_a_post_without_the_csrf_token_is_refused(people, person_page):
    person = people.person()
    page = person_page(person)
    resp = page.context.request.post("/account", form={"full_name": "Uzbrucējs", "language": "lv"})
    assert resp.status == 400
    assert "Veidlapas derīgums ir beidzies" in resp.text()
    page.goto("/account")
    assert page.get_by_label("Jūsu vārds un uzvārds").input_value() != "Uzbrucējs"


def test_the_accessibility_statement_in_both_languages(new_context):
    page = new_context().new_page()
    page.goto("/accessibility")
    assert page.get_by_role("heading", level=1).inner_text() == "Piekļūstamības paziņojums"
    assert "Nr. 445" in page.locator("main").inner_text()
    check_a11y(page, "accessibility-lv")
    with page.expect_navigation():
        page.get_by_role("button", name="English").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Accessibility statement"
    check_a11y(page, "accessibility-en")
    assert re.search(r"Accessibility statement", page.get_by_role("contentinfo").inner_text())
    time.sleep(0)
