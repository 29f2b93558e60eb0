"""What an uploaded file really is: its type sniffed from the bytes, checked to parse as that type.

The name and the declared Content-Type are never trusted; a name whose extension claims another
type than the bytes is refused. Everything reads the file in chunks or seeks in it: nothing here
holds a whole upload in memory.
"""

from __future__ import annotations

import hashlib
import re
import struct
import unicodedata
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO

import filetype

from .errors import Refused, unreadable
from .kinds import JPEG, PDF, PNG, XLSX
from .pdfcheck import check_pdf

CHUNK = 1024 * 1024
HEAD = 8192
# an XLSX may unpack to this much at most, and not by a ratio that only a bomb reaches
MAX_UNPACKED = 100 * 1024 * 1024
MAX_RATIO = 100
MAX_ENTRIES = 5000

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
EXTENSIONS = {".pdf": PDF, ".jpg": JPEG, ".jpeg": JPEG, ".png": PNG, ".xlsx": XLSX}
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
    claimed = EXTENSIONS.get(_extension(filename))
    if claimed is not None and claimed != media_type:
        raise Refused(
            "type_mismatch",
            f"The file is named as {NAMES_LV[claimed]} but its content is {NAMES_LV.get(media_type, media_type)}.",
            f"Datnes nosaukums norāda uz {NAMES_LV[claimed]}, bet saturs ir {NAMES_LV.get(media_type, media_type)}.",
            media_type=media_type,
        )
    if media_type not in allowed:
        raise Refused(
            "type_not_allowed",
            f"This kind of document cannot be a {media_type} file.",
            "Šāda veida dokuments nevar būt šāda tipa datne.",
            media_type=media_type,
            allowed=sorted(allowed),
        )
    stream.seek(0)
    if media_type == PDF:
        check_pdf(stream)
    elif media_type == PNG:
        check_png(stream)
    elif media_type == JPEG:
        check_jpeg(stream)
    stream.seek(0)
    return Inspected(media_type, size, sha256)


def _extension(filename: str) -> str:
    name = filename.lower().rsplit("/", 1)[-1]
    return name[name.rfind(".") :] if "." in name else ""


# ---- images ------------------------------------------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def check_png(stream: IO[bytes]) -> None:
    """Walk the chunks: IHDR first, every CRC right, at least one IDAT, IEND last with nothing after."""
    if stream.read(8) != PNG_SIGNATURE:
        raise unreadable("PNG")
    first, seen_idat = True, False
    while True:
        header = stream.read(8)
        if len(header) < 8:
            raise unreadable("PNG")
        length, ctype = struct.unpack(">I4s", header)
        if (first and (ctype != b"IHDR" or length != 13)) or length > 2**31 - 1:
            raise unreadable("PNG")
        first = False
        crc = zlib.crc32(ctype)
        left = length
        while left:
            data = stream.read(min(left, CHUNK))
            if not data:
                raise unreadable("PNG")
            crc = zlib.crc32(data, crc)
            left -= len(data)
        stored = stream.read(4)
        if len(stored) < 4 or struct.unpack(">I", stored)[0] != crc & 0xFFFFFFFF:
            raise unreadable("PNG")
        seen_idat = seen_idat or ctype == b"IDAT"
        if ctype == b"IEND":
            break
    if not seen_idat or stream.read(1):
        raise unreadable("PNG")


_STANDALONE = {0x01, *range(0xD0, 0xD8)}
_SOF = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def check_jpeg(stream: IO[bytes]) -> None:
    """Walk the segments from SOI to the start of scan; a frame header with a size must come first."""
    if stream.read(2) != b"\xff\xd8":
        raise unreadable("JPEG")
    seen_frame = False
    for _ in range(10_000):
        byte = stream.read(1)
        if byte != b"\xff":
            raise unreadable("JPEG")
        marker = stream.read(1)
        while marker == b"\xff":  # fill bytes
            marker = stream.read(1)
        if not marker:
            raise unreadable("JPEG")
        code = marker[0]
        if code in _STANDALONE:
            continue
        if code == 0xD9:
            raise unreadable("JPEG")
        raw = stream.read(2)
        if len(raw) < 2 or struct.unpack(">H", raw)[0] < 2:
            raise unreadable("JPEG")
        length = struct.unpack(">H", raw)[0]
        if code == 0xDA:
            if not seen_frame:
                raise unreadable("JPEG")
            return
        body = stream.read(length - 2)
        if len(body) < length - 2:
            raise unreadable("JPEG")
        if code in _SOF:
            if len(body) < 5:
                raise unreadable("JPEG")
            height, width = struct.unpack(">HH", body[1:5])
            if not (height and width):
                raise unreadable("JPEG")
            seen_frame = True
    raise unreadable("JPEG")


# ---- XLSX: a zip that is a workbook, and not a bomb -----------------------------------------------


def check_xlsx(stream: IO[bytes]) -> None:
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise unreadable("XLSX") from None
    with archive:
        infos = archive.infolist()
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
        names = {i.filename for i in infos}
        if not {"[Content_Types].xml", "xl/workbook.xml"} <= names:
            raise archive_refused()
        if any(n.lower().endswith("vbaproject.bin") for n in names):
            raise Refused(
                "macros_not_allowed",
                "Workbooks with macros are not accepted.",
                "Darbgrāmatas ar makro netiek pieņemtas.",
            )
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


# ---- file names ------------------------------------------------------------------------------------

# a Latvian personal code (DDMMYY-XXXXX, or 11 digits): never kept in a name, a header or a URL
_PERSONAL_CODE = re.compile(r"(?<!\d)\d{6}-?\d{5}(?!\d)")


def safe_filename(name: str | None, media_type: str) -> str:
    """The original file name as shown and downloaded: no path, no control characters, no personal code."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFC", base)
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    base = _PERSONAL_CODE.sub("xxxxxx-xxxxx", " ".join(base.split())).strip(" .")
    suffix = SUFFIX.get(media_type, "")
    if not base:
        return "dokuments" + suffix
    if len(base) > 200:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: 200 - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 else base[:200]
    return base
