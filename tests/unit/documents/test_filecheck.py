"""What an upload really is: sniffed from the bytes, checked to parse, fingerprinted (no servers)."""

from __future__ import annotations

import hashlib
import io

import pytest

from services.documents.errors import Refused
from services.documents.filecheck import inspect_file, safe_filename
from services.documents.kinds import JPEG, PDF, PNG, SCANS, SHEETS, XLSX
from tests.unit.documents import samples

pytestmark = pytest.mark.unit

LIMIT = 20 * 1024 * 1024


def inspect(data: bytes, name: str = "file", allowed: frozenset[str] = SHEETS, limit: int = LIMIT):  # type: ignore[no-untyped-def]
    return inspect_file(io.BytesIO(data), filename=name, allowed=allowed, max_bytes=limit)


def refused(data: bytes, name: str = "file", allowed: frozenset[str] = SHEETS, limit: int = LIMIT) -> Refused:
    with pytest.raises(Refused) as err:
        inspect(data, name, allowed, limit)
    assert err.value.status == 422 and err.value.detail_lv
    return err.value


@pytest.mark.parametrize(
    ("make", "name", "media_type"),
    [
        (samples.pdf, "kvits.pdf", PDF),
        (samples.jpeg, "skenejums.JPG", JPEG),
        (samples.png, "foto.png", PNG),
        (samples.xlsx, "tabele.xlsx", XLSX),
        (samples.pdf, "bez-paplasinajuma", PDF),
    ],
)
def test_accepted_types_are_told_by_their_bytes_with_size_and_sha256(make, name, media_type):
    data = make()
    found = inspect(data, name)
    assert found.media_type == media_type
    assert found.size == len(data) and found.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("data", "name", "code"),
    [
        (b"", "tukss.pdf", "empty_file"),
        (samples.pdf_with_javascript(), "forma.pdf", "active_content"),
        (samples.pdf_with_open_action("js"), "atver.pdf", "active_content"),
        (samples.pdf_with_open_action("launch"), "palaid.pdf", "active_content"),
        (samples.encrypted_pdf(), "slepens.pdf", "encrypted_pdf"),
        (samples.png(), "kvits.pdf", "type_mismatch"),
        (samples.zip_bomb(), "kvitis.zip", "compression_bomb"),
        (samples.xlsx_bomb(), "tabele.xlsx", "compression_bomb"),
        (samples.plain_zip(), "kvitis.zip", "archive_not_allowed"),
        (samples.gzip_file(), "kvitis.pdf.gz", "archive_not_allowed"),
        (b"%PDF-1.7\n1 0 obj << /Type /Catalog >> trailing garbage", "salauzts.pdf", "unreadable_file"),
        (samples.pdf()[:300], "nepilns.pdf", "unreadable_file"),
        (samples.png()[:-5], "nepilns.png", "unreadable_file"),
        (samples.png() + b"PK\x03\x04hidden", "ar-asti.png", "hidden_content"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(40), "tukss.jpg", "unreadable_file"),
        (b"just some text, not a document", "piezimes.txt", "unsupported_type"),
    ],
)
def test_refused_files_get_a_code(data, name, code):
    assert refused(data, name).code == code


def test_a_type_the_kind_does_not_allow_is_refused_with_the_allowed_ones():
    err = refused(samples.xlsx(), "tabele.xlsx", allowed=SCANS)
    assert err.code == "type_not_allowed" and err.extra["allowed"] == sorted(SCANS)


def test_the_limit_is_exact():
    data = samples.pdf()
    assert inspect(data, limit=len(data)).size == len(data)
    assert refused(data, limit=len(data) - 1).code == "file_too_large"


def test_a_workbook_with_macros_is_refused():
    import zipfile

    out = io.BytesIO()
    src = zipfile.ZipFile(io.BytesIO(samples.xlsx()))
    with zipfile.ZipFile(out, "w") as archive:
        for info in src.infolist():
            archive.writestr(info, src.read(info))
        archive.writestr("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0" + bytes(100))
    assert refused(out.getvalue(), "makro.xlsx").code == "macros_not_allowed"


def test_a_large_real_image_is_read_in_chunks():
    data = samples.png(1200, 1200, noise=True)  # about 4 MB that barely compresses
    assert inspect(data, "foto.png").size == len(data)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("C:\\fakepath\\kvīts oktobris.pdf", "kvīts oktobris.pdf"),
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("Anna 120305-12345 kvīts.pdf", "Anna xxxxxx-xxxxx kvīts.pdf"),
        ("32123456789.pdf", "xxxxxx-xxxxx.pdf"),
        ("rēķins\x00\n.pdf", "rēķins.pdf"),
        ("", "dokuments.pdf"),
        (None, "dokuments.pdf"),
    ],
)
def test_file_names_lose_paths_control_characters_and_personal_codes(given, expected):
    assert safe_filename(given, PDF) == expected


def test_a_long_file_name_keeps_its_extension():
    name = safe_filename("a" * 400 + ".pdf", PDF)
    assert len(name) == 200 and name.endswith(".pdf")
