"""Hostile uploads, each built in the test: polyglots, bombs, active PDFs, lying names, cut files.

Each is refused with its own stable code before anything is stored; the harmless look-alikes next to
them (a link in a PDF, a PDF saved twice, a phone JPEG carrying a second image) are accepted.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest

from services.documents.errors import Refused
from services.documents.filecheck import inspect_file, safe_filename
from services.documents.imagecheck import MAX_PIXELS, MAX_SIDE, check_dimensions
from services.documents.kinds import JPEG, PDF, SHEETS, XLSX
from tests.unit.documents import samples

pytestmark = pytest.mark.unit

LIMIT = 20 * 1024 * 1024
HTML = b"<html><body><script>fetch('/x?c='+document.cookie)</script></body></html>"

HOSTILE: dict[str, tuple[Callable[[], bytes], str, str]] = {
    # polyglots: one file, two readings
    "pdf with a zip appended": (samples.pdf_then_zip, "kvits.pdf", "hidden_content"),
    "pdf that is also a zip": (samples.pdf_hiding_a_zip, "kvits.pdf", "hidden_content"),
    "pdf with html after its end": (lambda: samples.pdf() + HTML, "kvits.pdf", "hidden_content"),
    "pdf with a web page in its first bytes": (samples.pdf_with_markup_in_header, "kvits.pdf", "hidden_content"),
    "png with html after IEND": (lambda: samples.png_then(HTML), "foto.png", "hidden_content"),
    "png with a script in a text chunk": (lambda: samples.png_with_text(HTML), "foto.png", "hidden_content"),
    "jpeg with a zip appended": (lambda: samples.jpeg() + samples.plain_zip(), "foto.jpg", "hidden_content"),
    "jpeg with a script after EOI": (lambda: samples.jpeg() + HTML, "foto.jpg", "hidden_content"),
    "jpeg with a script in a comment": (lambda: samples.jpeg_with_comment(HTML), "foto.jpg", "hidden_content"),
    "gifar": (samples.gifar, "foto.gif", "type_not_allowed"),
    "gifar named as jpeg": (samples.gifar, "foto.jpg", "type_mismatch"),
    "workbook whose first bytes are a pdf": (samples.xlsx_starting_with_pdf, "tabele.xlsx", "hidden_content"),
    # zip bombs and what hides in a workbook
    "zip bomb": (samples.zip_bomb, "kvits.zip", "compression_bomb"),
    "workbook with a bomb inside": (samples.xlsx_bomb, "tabele.xlsx", "compression_bomb"),
    "workbook declaring 200 MB": (lambda: samples.xlsx_declaring(200 * 1024 * 1024), "tabele.xlsx", "compression_bomb"),
    "workbook understating a 50 MB part": (samples.xlsx_understating, "tabele.xlsx", "unreadable_file"),
    "workbook of 5001 parts": (samples.xlsx_with_many_entries, "tabele.xlsx", "compression_bomb"),
    "workbook with a zip inside": (samples.xlsx_with_nested_zip, "tabele.xlsx", "archive_not_allowed"),
    "workbook with an embedded object": (samples.xlsx_with_embedded_object, "tabele.xlsx", "embedded_file"),
    "docx": (lambda: samples.office_document("docx"), "ligums.docx", "archive_not_allowed"),
    "odt": (lambda: samples.office_document("odt"), "ligums.odt", "archive_not_allowed"),
    # PDFs that run, submit, open or carry something
    "pdf with document javascript": (samples.pdf_with_javascript, "forma.pdf", "active_content"),
    "pdf opening with javascript": (lambda: samples.pdf_with_open_action("js"), "forma.pdf", "active_content"),
    "pdf opening with launch": (lambda: samples.pdf_with_action("Launch"), "forma.pdf", "active_content"),
    "pdf opening a web address": (lambda: samples.pdf_with_action("URI"), "forma.pdf", "active_content"),
    "pdf submitting a form": (lambda: samples.pdf_with_action("SubmitForm", on_open=False), "f.pdf", "active_content"),
    "pdf opening another file": (lambda: samples.pdf_with_action("GoToR", on_open=False), "f.pdf", "active_content"),
    "pdf with an xfa form": (samples.pdf_with_xfa, "forma.pdf", "active_content"),
    "pdf with an attachment": (samples.pdf_with_embedded_file, "pielikums.pdf", "embedded_file"),
    "encrypted pdf": (samples.encrypted_pdf, "slepens.pdf", "encrypted_pdf"),
    # names that lie
    "png named as pdf": (samples.png, "kvits.pdf", "type_mismatch"),
    "program named as jpeg": (samples.exe, "foto.jpg", "type_mismatch"),
    "program named as pdf": (samples.exe, "kvits.pdf", "type_mismatch"),
    "linux program named as png": (samples.elf, "foto.png", "type_mismatch"),
    "program under its own name": (samples.exe, "setup.exe", "type_not_allowed"),
    "pdf named as a program": (samples.pdf, "kvits.exe", "type_mismatch"),
    "pdf named as a web page": (samples.pdf, "kvits.html", "type_mismatch"),
    "pdf named as a script": (samples.pdf, "kvits.js", "type_mismatch"),
    # decompression bombs by their headers
    "png claiming 100 000 × 100 000": (lambda: samples.png_claiming(100_000, 100_000), "foto.png", "image_too_large"),
    "png claiming 40 000 × 1": (lambda: samples.png_claiming(40_000, 1), "foto.png", "image_too_large"),
    "jpeg claiming 65 000 × 65 000": (lambda: samples.jpeg_claiming(65_000, 65_000), "foto.jpg", "image_too_large"),
    "pdf with a 100 000² image": (lambda: samples.pdf_with_image(100_000, 100_000), "kvits.pdf", "image_too_large"),
    # cut short or broken
    "pdf without %%EOF": (samples.pdf_without_eof, "kvits.pdf", "unreadable_file"),
    "pdf with a broken startxref": (samples.pdf_with_broken_startxref, "kvits.pdf", "unreadable_file"),
    "pdf with a broken xref table": (samples.pdf_with_broken_xref_entries, "kvits.pdf", "unreadable_file"),
    "pdf cut in half": (lambda: samples.pdf()[: len(samples.pdf()) // 2], "kvits.pdf", "unreadable_file"),
    "jpeg cut inside its image data": (lambda: samples.jpeg()[:-3], "foto.jpg", "unreadable_file"),
    "jpeg without its end marker": (lambda: samples.jpeg()[:-2], "foto.jpg", "unreadable_file"),
    "png cut before IEND": (lambda: samples.png()[:-12], "foto.png", "unreadable_file"),
    "png cut inside IDAT": (lambda: samples.png()[:50], "foto.png", "unreadable_file"),
    "workbook cut short": (lambda: samples.xlsx()[:-100], "tabele.xlsx", "unreadable_file"),
    "empty file": (lambda: b"", "kvits.pdf", "empty_file"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_file_is_refused_with_its_code_in_both_languages(case):
    make, name, code = HOSTILE[case]
    with pytest.raises(Refused) as err:
        inspect_file(io.BytesIO(make()), filename=name, allowed=SHEETS, max_bytes=LIMIT)
    assert err.value.code == code
    assert err.value.status == 422 and err.value.detail and err.value.detail_lv
    assert err.value.detail != err.value.detail_lv


HARMLESS: dict[str, tuple[Callable[[], bytes], str, str]] = {
    "pdf opening at its first page": (lambda: samples.pdf_with_action("GoTo"), "kvits.pdf", PDF),
    "pdf with a web link on the page": (lambda: samples.pdf_with_action("URI", on_open=False), "kvits.pdf", PDF),
    "pdf saved again incrementally": (samples.pdf_updated_incrementally, "kvits.pdf", PDF),
    "pdf with a 2000 × 3000 scan": (lambda: samples.pdf_with_image(2000, 3000), "kvits.pdf", PDF),
    "pdf with blank lines after %%EOF": (lambda: samples.pdf() + b"\r\n\r\n\x00", "kvits.pdf", PDF),
    "jpeg carrying a second image (MPF)": (lambda: samples.jpeg() + samples.jpeg(), "foto.jpg", JPEG),
    "jpeg padded with zeros": (lambda: samples.jpeg() + bytes(16), "foto.jpg", JPEG),
    "a name with dots that is no extension": (samples.pdf, "kvīts 12.10.2026", PDF),
    "an upper-case extension": (samples.xlsx, "TABELE.XLSX", XLSX),
}


@pytest.mark.parametrize("case", list(HARMLESS))
def test_a_harmless_look_alike_is_accepted(case):
    make, name, media_type = HARMLESS[case]
    assert inspect_file(io.BytesIO(make()), filename=name, allowed=SHEETS, max_bytes=LIMIT).media_type == media_type


def test_the_image_size_limit_is_exact():
    check_dimensions(MAX_SIDE, MAX_PIXELS // MAX_SIDE)
    for width, height in ((MAX_SIDE + 1, 1), (1, MAX_SIDE + 1), (MAX_SIDE, MAX_PIXELS // MAX_SIDE + 1)):
        with pytest.raises(Refused) as err:
            check_dimensions(width, height)
        assert err.value.code == "image_too_large" and err.value.extra == {"width": width, "height": height}


@pytest.mark.parametrize(
    ("given", "media_type", "expected"),
    [
        ("kvīts 12.10.2026", PDF, "kvīts 12.10.2026.pdf"),
        ("skenējums", JPEG, "skenējums.jpg"),
        ("foto.jpeg", JPEG, "foto.jpeg"),
        ("tabele.xlsx", XLSX, "tabele.xlsx"),
    ],
)
def test_the_stored_name_ends_in_the_extension_of_what_the_bytes_are(given, media_type, expected):
    assert safe_filename(given, media_type) == expected
