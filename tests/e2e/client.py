"""The platform as its users see it: each service's HTTP API, a token per person, and the SMTP sink's mails."""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests
from stdnum.lv import pvn

from devstack.smtp_sink import read_messages
from tests.support.workers import wait_for

RIGA = ZoneInfo("Europe/Riga")
PASSWORD = "e2e-user-password-1"  # every test user's; the admin's is generated per run


def riga_today() -> date:
    """The school calendar's today (the platform judges dates in Europe/Riga)."""
    return datetime.now(RIGA).date()


def personal_code(birth: date, serial: int) -> str:
    """An old-format Latvian personal code (DDMMYY-CNNNX) with a valid check digit; never a real person's."""
    century = {18: "0", 19: "1", 20: "2"}[birth.year // 100]
    body = f"{birth:%d%m%y}{century}{serial:03d}"
    code = body + pvn.calc_check_digit_pers(body)
    assert pvn.is_valid(code), code
    return f"{code[:6]}-{code[6:]}"


def registration_number() -> str:
    return "9" + "".join(secrets.choice("0123456789") for _ in range(10))


@dataclass
class Person:
    """A user the test made, known by a short name; `token` once logged in."""

    key: str
    email: str
    id: str = ""
    token: str | None = None


class ApiError(AssertionError):
    def __init__(self, resp: requests.Response) -> None:
        super().__init__(f"{resp.request.method} {resp.url} -> {resp.status_code}: {resp.text[:800]}")
        self.resp = resp


class Api:
    """Calls `service` at `path` as a person (or anonymously); `ok` is the status expected."""

    def __init__(self, urls: dict[str, str], admin_email: str, admin_password: str) -> None:
        self.urls = urls
        self.http = requests.Session()
        self.admin = Person("admin", admin_email)
        self._admin_password = admin_password

    def login(self, person: Person, password: str = PASSWORD) -> Person:
        if person is self.admin:
            password = self._admin_password
        body = self.call("POST", "identity", "/auth/login", json={"email": person.email, "password": password})
        person.token = body["access_token"]
        if not person.id:
            person.id = self.call("GET", "identity", "/auth/me", as_=person)["id"]
        return person

    def raw(
        self, method: str, service: str, path: str, as_: Person | None = None, timeout: float = 30, **kw: Any
    ) -> requests.Response:
        headers = dict(kw.pop("headers", {}) or {})
        if as_ is not None:
            if as_.token is None:
                self.login(as_)
            headers["Authorization"] = f"Bearer {as_.token}"
        return self.http.request(method, self.urls[service] + path, headers=headers, timeout=timeout, **kw)

    def call(
        self,
        method: str,
        service: str,
        path: str,
        as_: Person | None = None,
        ok: int | tuple[int, ...] = (200, 201),
        **kw: Any,
    ) -> Any:
        resp = self.raw(method, service, path, as_=as_, **kw)
        if resp.status_code not in ((ok,) if isinstance(ok, int) else ok):
            raise ApiError(resp)
        return resp.json() if resp.content else None

    def get(self, service: str, path: str, as_: Person, **kw: Any) -> Any:
        return self.call("GET", service, path, as_=as_, **kw)

    def post(self, service: str, path: str, as_: Person, **kw: Any) -> Any:
        return self.call("POST", service, path, as_=as_, **kw)

    def patch(self, service: str, path: str, as_: Person, **kw: Any) -> Any:
        return self.call("PATCH", service, path, as_=as_, **kw)

    def all_pages(self, service: str, path: str, as_: Person) -> list[dict[str, Any]]:
        """Every item of a paginated list."""
        items: list[dict[str, Any]] = []
        page = 1
        sep = "&" if "?" in path else "?"
        while True:
            body = self.get(service, f"{path}{sep}page={page}&page_size=100", as_=as_)
            items += body["items"]
            if len(items) >= body["total"] or not body["items"]:
                return items
            page += 1

    # ---- identity: people and places --------------------------------------------------------------------

    def user(self, by: Person, key: str, tenant_id: str | None, *roles: dict[str, Any]) -> Person:
        """A user made through identity's admin API by `by`, within what `by` may grant; logged in."""
        email = f"{key.replace('_', '-')}-{secrets.token_hex(3)}@e2e.test"
        made = self.post(
            "identity",
            "/users",
            as_=by,
            json={
                "email": email,
                "full_name": key.replace("_", " ").title(),
                "tenant_id": tenant_id,
                "password": PASSWORD,
                "roles": [{"tenant_id": tenant_id, **r} if "region" not in r else r for r in roles],
            },
        )
        return self.login(Person(key, email, made["id"]))

    # ---- documents ---------------------------------------------------------------------------------------

    def upload(self, by: Person, data: bytes, filename: str, ok: int | tuple[int, ...] = 201, **form: Any) -> Any:
        return self.call("POST", "documents", "/documents", as_=by, ok=ok, data=form, files={"file": (filename, data)})

    def file_application(self, by: Person, plan: dict[str, Any], signer: str, signed_on: date, data: bytes) -> Any:
        """Upload a plan's signed application, as its preparer does, and wait until plans has it on file."""
        up = self.upload(
            by,
            data,
            "iesniegums.pdf",
            kind="application",
            student_id=plan["student_id"],
            plan_id=plan["id"],
            signer=signer,
            signed_on=signed_on.isoformat(),
        )
        assert self.verdict(by, up["id"]) == "accepted"  # plans found it fits the plan

        def on_file() -> Any:
            now = self.get("plans", f"/plans/{plan['id']}", as_=by)
            return now if now["application_on_file"] and now["application_document_id"] == up["id"] else None

        return wait_for(on_file, timeout=30, interval=0.2, message=f"the application on file for {plan['id']}")

    def document(self, by: Person, document_id: str) -> dict[str, Any]:
        return self.get("documents", f"/documents/{document_id}", as_=by)  # type: ignore[no-any-return]

    def verdict(self, by: Person, document_id: str, timeout: float = 60.0) -> str:
        """Wait until finance's verdict has reached the document; return its status."""

        def decided() -> str | None:
            status = self.document(by, document_id)["status"]
            return None if status in ("received", "queued", "checking") else str(status)

        return wait_for(decided, timeout=timeout, interval=0.2, message=f"a verdict on document {document_id}")  # type: ignore[no-any-return]

    # ---- notifications -----------------------------------------------------------------------------------

    def inbox(self, person: Person) -> list[dict[str, Any]]:
        return self.all_pages("notifications", "/inbox", as_=person)

    def told(self, person: Person, kind: str, ref_id: str, count: int = 1, timeout: float = 30.0) -> None:
        """Wait until `person` has `count` inbox items of `kind` about `ref_id` (an approver looks before acting)."""

        def arrived() -> bool:
            items = [i for i in self.inbox(person) if i["kind"] == kind and i["ref_id"] == ref_id]
            return len(items) >= count

        wait_for(arrived, timeout=timeout, interval=0.2, message=f"{person.key} told {kind} about {ref_id}")

    def deliveries_settled(self) -> bool:
        """No e-mail delivery is pending or waiting for a retry (the platform admin's view)."""
        for status in ("pending", "retrying"):
            if self.get("notifications", f"/admin/deliveries?status={status}&page_size=1", as_=self.admin)["total"]:
                return False
        return True


def mails(sink: Path) -> list[tuple[str, str, str]]:
    """(kind, ref, envelope recipient) of every mail in the sink, one tuple per recipient."""
    out = []
    for msg in read_messages(sink):
        for rcpt in str(msg["X-Envelope-To"] or "").split(","):
            out.append((str(msg["X-PuMPuRS-Kind"]), str(msg["X-PuMPuRS-Ref"]), rcpt.strip().lower()))
    return out


def mail_counts(sink: Path, refs: set[str]) -> Counter[tuple[str, str, str]]:
    """How many mails of each (kind, ref, recipient) the sink holds about these refs (`plan:<id>`, ...)."""
    return Counter(m for m in mails(sink) if m[1] in refs)
