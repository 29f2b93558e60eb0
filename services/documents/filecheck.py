"""What an uploaded file really is: its type sniffed from the bytes, checked to parse as that type.

The name and the declared Content-Type are never trusted; a name whose extension claims another
type than the bytes is refused. Everything reads the file in chunks or seeks in it: nothing here
holds a whole upload in memory.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass
from typing import IO

import filetype

from .errors import Refused, embedded_file, hidden_content, unreadable
from .imagecheck import check_jpeg, check_png
from .kinds import JPEG, PDF, PNG, XLSX
from .pdfcheck import check_pdf

CHUNK = 1024 * 1024
HEAD = 8192
# an XLSX may unpack to this much at most, and not by a ratio that only a bomb reaches
MAX_UNPACKED = 100 * 1024 * 1024
MAX_RATIO = 100
MAX_ENTRIES = 5000
# where readers look for a type's signature or for markup: a PDF header anywhere in the first KiB
# makes a PDF for most readers, and markup there lets a browser take the file for a web page
SNIFF_WINDOW = 1024
MARKUP = re.compile(rb"<(?:script|html|!doctype\s+html|iframe|body|head|svg|object|embed|\?php)[\s>/]", re.IGNORECASE)

ARCHIVES = frozenset(
    {
        "application/zip",
        "application/x-tar",
        "application/x-rar-compressed",
        "application/gzip",
        "application/x-bzip2",
        "application/x-7z-compressed",
        "application/x-xz",
        "application/vnd.ms-cab-compressed",
        "application/x-deb",
        "application/x-unix-archive",
        "application/x-compress",
        "application/x-lzop",
        "application/x-lzip",
        "application/x-lz4",
        "application/zstd",
        "application/x-brotli",
        "application/x-rpm",
        "application/epub+zip",
    }
)
# archives nested in a workbook, by their first bytes or their names; OLE is how Office embeds objects
ARCHIVE_SIGNATURES = (
    b"PK\x03\x04",
    b"PK\x05\x06",
    b"\x1f\x8b",
    b"BZh",
    b"7z\xbc\xaf\x27\x1c",
    b"Rar!\x1a\x07",
    b"\xfd7zXZ\x00",
    b"\x28\xb5\x2f\xfd",
)
ARCHIVE_SUFFIXES = (".zip", ".gz", ".tgz", ".bz2", ".7z", ".rar", ".xz", ".zst", ".tar", ".jar", ".cab")
OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
EXTENSIONS = {".pdf": PDF, ".jpg": JPEG, ".jpeg": JPEG, ".jpe": JPEG, ".png": PNG, ".xlsx": XLSX}
# extensions that name some other type (Python's own table, not the machine's) or a program
_OTHER_TYPES = mimetypes.MimeTypes()
PROGRAMS = frozenset(
    {".exe", ".com", ".scr", ".bat", ".cmd", ".msi", ".dll", ".jar", ".js", ".mjs", ".vbs", ".vbe", ".wsf"}
    | {".ps1", ".hta", ".lnk", ".sh", ".apk", ".app", ".svg"}
)
SUFFIX = {PDF: ".pdf", JPEG: ".jpg", PNG: ".png", XLSX: ".xlsx"}
NAMES_LV = {PDF: "PDF", JPEG: "JPEG", PNG: "PNG", XLSX: "XLSX"}


@dataclass(frozen=True)
class Inspected:
    media_type: str
    size: int
    sha256: str


def digest(stream: IO[bytes], max_bytes: int) -> tuple[int, str, bytes]:
    """Size, SHA-256 and the first bytes, reading in chunks; refuse empty and oversized files."""
    stream.seek(0)
    sha = hashlib.sha256()
    size = 0
    head = b""
    while chunk := stream.read(CHUNK):
        if not head:
            head = chunk[:HEAD]
        size += len(chunk)
        if size > max_bytes:
            raise too_large(max_bytes)
        sha.update(chunk)
    if size == 0:
        raise Refused("empty_file", "The file is empty.", "Datne ir tukša.")
    return size, sha.hexdigest(), head


def too_large(max_bytes: int) -> Refused:
    return Refused(
        "file_too_large",
        f"The file is larger than the limit of {max_bytes} bytes.",
        f"Datne ir lielāka par atļautajiem {max_bytes} baitiem.",
        max_bytes=max_bytes,
    )


def sniff(head: bytes) -> str:
    """The media type the first bytes show; zip-based files are told apart later."""
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return "application/zip"
    mime = filetype.guess_mime(head)
    if mime is None:
        raise Refused(
            "unsupported_type",
            "The file type is not recognised (PDF, JPEG, PNG or XLSX).",
            "Datnes tips nav atpazīts (PDF, JPEG, PNG vai XLSX).",
        )
    if mime in ARCHIVES:
        raise archive_refused()
    return str(mime)


def archive_refused() -> Refused:
    return Refused(
        "archive_not_allowed",
        "Archives are not accepted; upload the documents themselves.",
        "Arhīvi netiek pieņemti; augšupielādējiet pašus dokumentus.",
    )


def inspect_file(stream: IO[bytes], *, filename: str, allowed: frozenset[str], max_bytes: int) -> Inspected:
    """Sniff, check and fingerprint an upload; raise Refused for anything the service will not store."""
    size, sha256, head = digest(stream, max_bytes)
    media_type = sniff(head)
    if media_type == "application/zip":
        stream.seek(0)
        check_xlsx(stream)
        media_type = XLSX
    check_extension(filename, media_type)
    if media_type not in allowed:
        raise Refused(
            "type_not_allowed",
            f"This kind of document cannot be a {media_type} file.",
            "Šāda veida dokuments nevar būt šāda tipa datne.",
            media_type=media_type,
            allowed=sorted(allowed),
        )
    check_head(head, media_type)
    stream.seek(0)
    if media_type == PDF:
        check_pdf(stream)
    elif media_type == PNG:
        check_png(stream)
    elif media_type == JPEG:
        check_jpeg(stream)
    if media_type != XLSX and is_also_zip(stream):
        raise hidden_content(NAMES_LV.get(media_type, media_type))
    stream.seek(0)
    return Inspected(media_type, size, sha256)


def check_extension(filename: str, media_type: str) -> None:
    """Refuse a name whose extension says another type than the bytes (a PNG named .pdf, a program named .jpg)."""
    ext = _extension(filename)
    if not ext:
        return
    claimed = EXTENSIONS.get(ext)
    if claimed == media_type or (claimed is None and media_type not in NAMES_LV):
        return  # a type the service does not take at all is refused as such, whatever its name
    if claimed is None and ext not in PROGRAMS and _OTHER_TYPES.guess_type("x" + ext)[0] is None:
        return  # not an extension at all ("kvīts 12.10.2026"): the stored name gets the right one
    named = NAMES_LV[claimed] if claimed else ext
    content = NAMES_LV.get(media_type, media_type)
    raise Refused(
        "type_mismatch",
        f"The file is named as {named} but its content is {content}.",
        f"Datnes nosaukums norāda uz {named}, bet saturs ir {content}.",
        media_type=media_type,
    )


def check_head(head: bytes, media_type: str) -> None:
    """Refuse a file whose first bytes also make another type: a PDF header or web markup where readers look."""
    window = head[:SNIFF_WINDOW]
    if (media_type != PDF and b"%PDF-" in window) or MARKUP.search(window):
        raise hidden_content(NAMES_LV.get(media_type, media_type))


def is_also_zip(stream: IO[bytes]) -> bool:
    """Whether a zip reader finds an archive with entries in this file (its directory is read from the end)."""
    stream.seek(0)
    try:
        with zipfile.ZipFile(stream) as archive:
            return bool(archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return False


def _extension(filename: str) -> str:
    name = filename.lower().rsplit("/", 1)[-1]
    return name[name.rfind(".") :] if "." in name else ""


# ---- XLSX: a zip that is a workbook, and not a bomb -----------------------------------------------


def check_xlsx(stream: IO[bytes]) -> None:
    """A workbook, not a bomb: sizes and count as its directory declares them, no archive or object inside."""
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise unreadable("XLSX") from None
    with archive:
        infos = archive.infolist()
        # a reader never unpacks more than an entry declares, so the declared sizes bound the work
        unpacked = sum(i.file_size for i in infos)
        packed = sum(i.compress_size for i in infos) or 1
        if (
            len(infos) > MAX_ENTRIES
            or unpacked > MAX_UNPACKED
            or (unpacked > 10 * 1024 * 1024 and unpacked / packed > MAX_RATIO)
        ):
            raise Refused(
                "compression_bomb",
                "The archive unpacks to far more than it weighs.",
                "Arhīvs atpakojot kļūst daudzkārt lielāks nekā augšupielādētais.",
            )
        names = [i.filename for i in infos]
        # two entries of one name are read differently by different programs; encrypted ones not at all
        if len(set(names)) != len(names) or any(i.flag_bits & 0x1 for i in infos):
            raise unreadable("XLSX")
        if not {"[Content_Types].xml", "xl/workbook.xml"} <= set(names):
            raise archive_refused()
        if any(n.lower().endswith("vbaproject.bin") for n in names):
            raise Refused(
                "macros_not_allowed",
                "Workbooks with macros are not accepted.",
                "Darbgrāmatas ar makro netiek pieņemtas.",
            )
        if any(n.lower().startswith("xl/activex/") for n in names):
            raise Refused(
                "active_content",
                "Workbooks with ActiveX controls are not accepted.",
                "Darbgrāmatas ar ActiveX vadīklām netiek pieņemtas.",
                found="activeX",
            )
        for info in infos:  # bounded: the declared sizes were checked above
            inner = _entry_head(archive, info)
            if inner.startswith(ARCHIVE_SIGNATURES) or info.filename.lower().endswith(ARCHIVE_SUFFIXES):
                raise archive_refused()
            if info.filename.lower().startswith("xl/embeddings/") or inner.startswith(OLE_SIGNATURE):
                raise embedded_file("XLSX")
        content_types = archive.read("[Content_Types].xml")
        if b"spreadsheetml.sheet.main+xml" not in content_types:
            raise archive_refused()
    stream.seek(0)
    try:
        import openpyxl

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            book = openpyxl.load_workbook(stream, read_only=True, data_only=True, keep_links=False)
            try:
                if not book.sheetnames:
                    raise unreadable("XLSX")
            finally:
                book.close()
    except Refused:
        raise
    except Exception:
        raise unreadable("XLSX") from None


def _entry_head(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """The first bytes of an entry, after unpacking it whole: never past its declared size, and its CRC
    must match (a part that unpacks to more than it declares fails here)."""
    if info.is_dir():
        return b""
    try:
        with archive.open(info) as entry:
            head = entry.read(8)
            while entry.read(CHUNK):
                pass
            return head
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError):
        raise unreadable("XLSX") from None


# ---- file names ------------------------------------------------------------------------------------

# a Latvian personal code (DDMMYY-XXXXX, or 11 digits): never kept in a name, a header or a URL
_PERSONAL_CODE = re.compile(r"(?<!\d)\d{6}-?\d{5}(?!\d)")


def safe_filename(name: str | None, media_type: str) -> str:
    """The original file name as shown and downloaded: no path, no control characters, no personal code,
    and ending in the extension of what the bytes are."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFC", base)
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    base = _PERSONAL_CODE.sub("xxxxxx-xxxxx", " ".join(base.split())).strip(" .")
    suffix = SUFFIX.get(media_type, "")
    if not base:
        return "dokuments" + suffix
    if suffix and EXTENSIONS.get(_extension(base)) != media_type:
        base = base[: 200 - len(suffix)] + suffix
    if len(base) > 200:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: 200 - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 else base[:200]
    return base
