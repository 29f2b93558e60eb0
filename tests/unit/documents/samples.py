"""Small real files made in the tests: PDFs (plain, with scripts, encrypted), images, workbooks, archives."""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib

from pypdf import PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, TextStringObject


def pdf(pages: int = 1, *, marker: str = "") -> bytes:
    """A real PDF of blank pages; `marker` makes otherwise equal files differ."""
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(595, 842)
    writer.add_metadata({"/Title": f"Kvīts {marker}"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _action(kind: str) -> DictionaryObject:
    if kind == "launch":
        return DictionaryObject(
            {NameObject("/S"): NameObject("/Launch"), NameObject("/F"): TextStringObject("cmd.exe")}
        )
    return DictionaryObject(
        {NameObject("/S"): NameObject("/JavaScript"), NameObject("/JS"): TextStringObject("app.alert('sveiki');")}
    )


def pdf_with_javascript() -> bytes:
    """Document-level JavaScript in the /Names tree, as a form-filling PDF would carry it."""
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    ref = writer._add_object(_action("js"))
    names = DictionaryObject({NameObject("/Names"): ArrayObject([TextStringObject("init"), ref])})
    writer._root_object[NameObject("/Names")] = DictionaryObject({NameObject("/JavaScript"): names})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pdf_with_open_action(kind: str = "js") -> bytes:
    """An /OpenAction that runs a script (`js`) or starts a program (`launch`) when the file opens."""
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer._root_object[NameObject("/OpenAction")] = _action(kind)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def encrypted_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.encrypt(user_password="parole", owner_password="ipasnieks", algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(width: int = 4, height: int = 4, *, noise: bool = False) -> bytes:
    """A real RGB PNG; with `noise` the pixels are random, so it barely compresses (big files)."""
    row = 3 * width
    raw = b"".join(b"\x00" + (os.urandom(row) if noise else bytes([200, 30, 30]) * width) for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(raw, 1)) + _chunk(b"IEND", b"")


def jpeg() -> bytes:
    """A real baseline JPEG: one 8x8 grey block, with one-code Huffman tables (DC 0, AC end-of-block)."""
    soi, eoi = b"\xff\xd8", b"\xff\xd9"
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    dqt = b"\xff\xdb" + struct.pack(">H", 67) + b"\x00" + bytes([1] * 64)
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 8, 8, 1) + b"\x01\x11\x00"
    counts = bytes([1] + [0] * 15)
    dht_dc = b"\xff\xc4" + struct.pack(">H", 20) + b"\x00" + counts + b"\x00"
    dht_ac = b"\xff\xc4" + struct.pack(">H", 20) + b"\x10" + counts + b"\x00"
    sos = b"\xff\xda" + struct.pack(">HB", 8, 1) + b"\x01\x00\x00\x3f\x00"
    return soi + app0 + dqt + sof0 + dht_dc + dht_ac + sos + b"\x3f" + eoi


def xlsx(rows: int = 3) -> bytes:
    """A real workbook, as an accountant's timesheet would be."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Datums", "Stundas", "Summa"])
    for i in range(rows):
        sheet.append([f"2026-10-{i + 1:02d}", 2, 24.5])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _zeros_entry(archive: zipfile.ZipFile, name: str, megabytes: int) -> None:
    with archive.open(name, "w", force_zip64=True) as entry:
        block = bytes(1024 * 1024)
        for _ in range(megabytes):
            entry.write(block)


def zip_bomb(megabytes: int = 200) -> bytes:
    """A few hundred kilobytes that unpack to `megabytes` of zeros."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        _zeros_entry(archive, "invoice.pdf", megabytes)
    return out.getvalue()


def xlsx_bomb(megabytes: int = 30) -> bytes:
    """A real workbook with a huge all-zero part slipped in."""
    src = zipfile.ZipFile(io.BytesIO(xlsx()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for info in src.infolist():
            archive.writestr(info, src.read(info))
        _zeros_entry(archive, "xl/media/image1.bin", megabytes)
    return out.getvalue()


def plain_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("kvits.pdf", pdf())
    return out.getvalue()


def gzip_file() -> bytes:
    import gzip

    return gzip.compress(pdf())
