"""Documents' rules without servers: metadata per kind, who uploads where, keys, links, messages."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest

from services.common.auth import Grant, Principal
from services.common.contracts import CONTRACT
from services.common.errors import ApiError
from services.documents import access, uploads
from services.documents.kinds import KINDS
from services.documents.models import Document, DocumentVersion
from services.documents.settings import DocumentsSettings, load_documents_settings
from services.documents.storage import Storage, content_disposition

pytestmark = pytest.mark.unit

T1, T2 = str(uuid.uuid4()), str(uuid.uuid4())
S1, S2 = str(uuid.uuid4()), str(uuid.uuid4())


def who(*grants: Grant, tenant: str | None = T1) -> Principal:
    return Principal(str(uuid.uuid4()), tenant, "kurzeme", grants)


def test_expense_kinds_need_student_plan_category_month_and_amount():
    with pytest.raises(ApiError) as err:
        uploads.check_metadata("invoice", {"student_id": uuid.uuid4()})
    assert set(err.value.errors or {}) == {"plan_id", "category", "month", "amount"}


@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("-1.00"), Decimal("12.345"), Decimal("1000000.01")])
def test_an_amount_is_positive_euros_with_at_most_two_decimals(amount):
    with pytest.raises(ApiError) as err:
        uploads.check_metadata("statement", {"month": date(2026, 10, 1), "amount": amount})
    assert list(err.value.errors or {}) == ["amount"]


def test_an_amount_is_kept_with_two_places():
    values = uploads.check_metadata("statement", {"month": date(2026, 10, 1), "amount": Decimal("12.5")})
    assert str(values["amount"]) == "12.50"


def test_an_attestation_period_must_not_end_before_it_starts():
    with pytest.raises(ApiError) as err:
        uploads.check_metadata(
            "attestation",
            {
                "student_id": uuid.uuid4(),
                "issuer": "Ventspils novada pašvaldība",
                "issued_on": date(2026, 8, 20),
                "valid_from": date(2027, 1, 1),
                "valid_to": date(2026, 9, 1),
                "categories": ["meals"],
            },
        )
    assert list(err.value.errors or {}) == ["valid_to"]


def test_a_school_coordinator_uploads_to_their_own_school_without_naming_it():
    p = who(Grant("school_coordinator", tenant_id=T1, school_id=S1))
    assert access.upload_target(p, "invoice", None, None) == (uuid.UUID(T1), uuid.UUID(S1))
    with pytest.raises(ApiError) as err:
        access.upload_target(p, "invoice", None, uuid.UUID(S2))
    assert err.value.code == "upload_not_allowed"
    with pytest.raises(ApiError):
        access.upload_target(p, "invoice", uuid.UUID(T2), None)


def test_a_municipal_accountant_names_the_school_and_a_teacher_uploads_nothing():
    acc = who(Grant("accountant", tenant_id=T1))
    with pytest.raises(ApiError) as err:
        access.upload_target(acc, "invoice", None, None)
    assert err.value.status == 422 and "school_id" in (err.value.errors or {})
    assert access.upload_target(acc, "invoice", None, uuid.UUID(S2)) == (uuid.UUID(T1), uuid.UUID(S2))
    assert access.upload_target(acc, "statement", None, None) == (uuid.UUID(T1), None)
    with pytest.raises(ApiError) as err:
        access.upload_target(who(Grant("teacher", tenant_id=T1, school_id=S1)), "invoice", None, None)
    assert err.value.status == 403


def test_someone_with_two_tenants_must_say_which():
    p = who(Grant("accountant", tenant_id=T1), Grant("accountant", tenant_id=T2))
    with pytest.raises(ApiError) as err:
        access.upload_target(p, "statement", None, None)
    assert "tenant_id" in (err.value.errors or {})
    assert access.upload_target(p, "statement", uuid.UUID(T2), None) == (uuid.UUID(T2), None)


def test_object_keys_hold_tenant_year_month_document_and_version_only():
    tenant, doc = uuid.uuid4(), uuid.uuid4()
    key = uploads.object_key(tenant, datetime(2026, 3, 5, tzinfo=UTC), doc, 2)
    assert key == f"{tenant}/2026/03/{doc}/v2"


def _settings(**kw: object) -> DocumentsSettings:
    base = dict(
        service="documents",
        database_url="",
        broker_url="",
        result_backend="",
        jwt_issuer="i",
        jwt_audience="a",
        jwks_url="j",
        s3_endpoint_url="http://10.0.0.5:9000",
        s3_access_key="AK",
        s3_secret_key="SK",
        s3_public_endpoint_url="https://files.pumpurs.lv",
    )
    base.update(kw)
    return DocumentsSettings(**base)  # type: ignore[arg-type]


def test_download_links_are_signed_for_the_public_endpoint_with_the_file_name_and_expire():
    storage = Storage(_settings())
    url = storage.presigned_get(
        "t/2026/10/d/v1", filename="kvīts oktobris.pdf", media_type="application/pdf", expires=timedelta(minutes=5)
    )
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert parts.scheme == "https" and parts.netloc == "files.pumpurs.lv"  # signed locally, no request made
    assert query["X-Amz-Expires"] == ["300"]
    assert query["response-content-disposition"] == [content_disposition("kvīts oktobris.pdf")]
    assert query["response-content-type"] == ["application/pdf"]


def test_content_disposition_has_an_ascii_fallback_and_the_exact_name():
    assert content_disposition('kvīts "1".pdf') == (
        "attachment; filename=\"kv_ts _1_.pdf\"; filename*=UTF-8''kv%C4%ABts%20%221%22.pdf"
    )


def test_retention_is_read_per_kind_from_the_environment(monkeypatch):
    monkeypatch.setenv("DOCUMENTS_DATABASE_URL", "postgresql://x@h/db")
    monkeypatch.setenv("DOCUMENTS_RETENTION_DAYS", "statement=30,invoice=3650")
    monkeypatch.setenv("S3_ENDPOINT_URL", "http://s3.local:9000")
    s = load_documents_settings()
    assert s.retention_for("statement") == 30 and s.retention_for("agreement") == s.retention_default_days
    assert s.public_endpoint == "http://s3.local:9000" and s.max_upload_bytes == 20 * 1024 * 1024
    monkeypatch.setenv("DOCUMENTS_RETENTION_DAYS", "recipe=1")
    with pytest.raises(ValueError):
        load_documents_settings()


def _doc(kind: str, **kw: object) -> tuple[Document, DocumentVersion]:
    fields: dict[str, object] = {"categories": [], **kw}
    doc = Document(
        id=uuid.uuid4(),
        tenant_id=uuid.uuid4(),
        school_id=uuid.uuid4(),
        kind=kind,
        student_id=uuid.uuid4(),
        plan_id=uuid.uuid4(),
        **fields,
    )
    version = DocumentVersion(
        number=1,
        sha256="a" * 64,
        size=10,
        media_type="application/pdf",
        duplicate_of=[str(uuid.uuid4())],
        uploaded_by=uuid.uuid4(),
        created_at=datetime.now(UTC),
        stored_at=datetime.now(UTC),
    )
    return doc, version


def test_the_messages_to_finance_fit_the_contract_and_carry_no_file_name():
    doc, version = _doc(
        "transport_ticket", category="public_transport", month=date(2026, 10, 1), amount=Decimal("18.40")
    )
    body = CONTRACT.get("finance.check_expense_document").normalise(uploads.finance_payload(doc, version))
    assert body["amount"] == "18.40" and body["month"] == "2026-10-01" and body["duplicate_in_tenant"] is True
    doc, version = _doc(
        "attestation",
        issuer="Ventspils novada Sociālais dienests",
        issued_on=date(2026, 8, 20),
        valid_from=date(2026, 9, 1),
        valid_to=date(2026, 12, 31),
        categories=["meals", "public_transport"],
    )
    body = CONTRACT.get("finance.register_attestation").normalise(uploads.finance_payload(doc, version))
    assert body["categories"] == ["meals", "public_transport"] and "filename" not in body
    assert body["issuer"] == "Ventspils novada Sociālais dienests"


def test_an_application_is_announced_to_plans_with_its_plan_signer_and_date():
    doc, version = _doc("application", signer="guardian", signed_on=date(2026, 9, 2))
    body = CONTRACT.get("plans.register_application").normalise(uploads.finance_payload(doc, version))
    assert (body["plan_id"], body["signer"], body["signed_on"]) == (str(doc.plan_id), "guardian", "2026-09-02")
    assert body["student_id"] == str(doc.student_id) and "filename" not in body
    with pytest.raises(ApiError) as refused:
        uploads.check_metadata("application", {"student_id": doc.student_id})
    assert set(refused.value.errors or {}) == {"plan_id", "signer", "signed_on"}


def test_every_kind_names_its_media_types_uploaders_and_message():
    for spec in KINDS.values():
        assert spec.media_types and spec.uploaders and spec.label_lv
        # evidence is checked by finance; an application is put on file by plans (issue 13)
        wanted = "plans" if spec.name == "application" else "finance"
        assert spec.message is None or CONTRACT.get(spec.message).queue == wanted
