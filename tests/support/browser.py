"""What page tests need: Chromium from the Debian package driven by Playwright, axe-core in the page, a
screenshot per checked page, and people made through the APIs in a few calls.

    def test_something(portal, people, person_page):
        coordinator = people.coordinator()                  # a tenant, a school and the person, by API
        page = person_page(coordinator)                     # a fresh browser context, logged in
        check_a11y(page, "students-list")                   # axe (WCAG 2.0/2.1 A and AA) + a screenshot
"""

from __future__ import annotations

import functools
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import TEST_ROOT
from tests.e2e.client import PASSWORD, Api, ApiError, Person, registration_number

AXE = Path(__file__).parent / "axe-core-4.14.1" / "axe.min.js"
SCREENSHOTS = TEST_ROOT / "screenshots"
# as measured on this machine (DESIGN.md): Debian's Chromium headless as root, no GPU, no background traffic
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@functools.cache
def _axe_source() -> str:
    return AXE.read_text() + "\n;void 0"


def chromium_path() -> str:
    return os.environ.get("PUMPURS_CHROMIUM") or "/usr/bin/chromium"


def check_a11y(page: Any, name: str) -> dict[str, Any]:
    """Run axe-core on the page as it is now; fail on any WCAG A/AA violation. Saves a full-page screenshot
    to .var/test/screenshots/<name>.png either way (look at it)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # the portal's CSP refuses inline scripts (add_script_tag inlines the file): evaluated through the
        # DevTools protocol instead, which a page's CSP does not govern; pages without a CSP take the tag
        try:
            page.add_script_tag(path=str(AXE))
        except Exception:
            page.evaluate(_axe_source())
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})", AXE_TAGS
    )
    violations = result["violations"]
    if violations:
        lines = [f"{len(violations)} accessibility violation(s) on {name} ({page.url}):"]
        for v in violations:
            lines.append(f"- {v['id']} ({v['impact']}): {v['help']} — {v['helpUrl']}")
            for node in v["nodes"][:5]:
                lines.append(f"    {', '.join(node['target'])}: {node.get('failureSummary', '').splitlines()[-1:]}")
        raise AssertionError("\n".join(lines))
    return result  # type: ignore[no-any-return]


def log_in(page: Any, email: str, password: str = PASSWORD) -> None:
    """Log in through the login page, as a person does (Latvian labels)."""
    page.goto("/login")
    page.get_by_label("E-pasta adrese").fill(email)
    page.get_by_label("Parole").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Pieteikties").click()


@dataclass
class Place:
    tenant_id: str
    school_id: str
    name: str


class People:
    """Tenants, schools and people made through the APIs, as the admin would in the portal."""

    def __init__(self, api: Api) -> None:
        self.api = api

    def as_admin(self, method: str, service: str, path: str, **kw: Any) -> Any:
        """A call as the platform admin; its token is renewed by a new login when it has expired."""
        try:
            return self.api.call(method, service, path, as_=self.api.admin, **kw)
        except ApiError as exc:
            if exc.resp.status_code != 401:
                raise
            self.api.login(self.api.admin)
            return self.api.call(method, service, path, as_=self.api.admin, **kw)

    def place(self, region: str = "kurzeme") -> Place:
        suffix = secrets.token_hex(3)
        tenant = self.as_admin(
            "POST",
            "identity",
            "/tenants",
            json={
                "kind": "municipality",
                "name": f"Pārbaudes novads {suffix}",
                "registration_number": registration_number(),
                "region": region,
                "student_count": 100,
            },
        )
        school = self.as_admin(
            "POST",
            "identity",
            f"/tenants/{tenant['id']}/schools",
            json={"name": f"Pārbaudes skola {suffix}", "registration_number": registration_number()},
        )
        return Place(tenant["id"], school["id"], tenant["name"])

    def person(self, place: Place | None = None, role: str = "school_coordinator", *, login: bool = False) -> Person:
        place = place or self.place()
        grant: dict[str, Any] = {"role": role, "tenant_id": place.tenant_id}
        if role not in ("municipality_coordinator", "accountant", "auditor"):
            grant["school_id"] = place.school_id
        key = re.sub(r"\W", "-", role)
        email = f"{key}-{secrets.token_hex(4)}@browser.test"
        made = self.as_admin(
            "POST",
            "identity",
            "/users",
            json={
                "email": email,
                "full_name": f"Anna Bērziņa {secrets.token_hex(2)}",
                "tenant_id": place.tenant_id,
                "password": PASSWORD,
                "roles": [grant],
            },
        )
        person = Person(key, email, made["id"])
        person.place = place  # type: ignore[attr-defined]
        return self.api.login(person) if login else person


def mail_link(message: Any) -> str:
    """The first link to the portal in a mail's plain text."""
    text = message.get_body(("plain",)).get_content()
    return next(word for word in text.split() if word.startswith("http"))


def dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=1)
