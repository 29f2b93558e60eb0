"""PDF inspection with pypdf: whole (its end and its cross-reference in place, nothing after it), not
encrypted, and with nothing that runs, submits, opens another file or carries one.

pypdf repairs a broken file quietly; readers repair it each their own way, so a repaired file may show
them objects this check never saw. A file that needs repairing is refused instead.
"""

from __future__ import annotations

import logging
import re
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

from .errors import Refused, embedded_file, hidden_content, unreadable
from .imagecheck import PADDING, check_dimensions

# keys that hold scripts, XML forms (XFA runs scripts) or rich media, wherever they appear
ACTIVE_KEYS = frozenset({"/JS", "/JavaScript", "/Launch", "/XFA", "/RichMedia"})
# action types (/S) that run, submit, fetch or open something other than a page of this file
ACTIVE_ACTIONS = frozenset(
    {
        "/JavaScript",
        "/Launch",
        "/SubmitForm",
        "/ImportData",
        "/GoToR",
        "/GoToE",
        "/RichMediaExecute",
        "/Rendition",
        "/Movie",
        "/Sound",
    }
)
# what happens by itself when the file or a page opens may only be going to a page of the file
AUTOMATIC_KEYS = frozenset({"/OpenAction", "/AA"})
HARMLESS_AUTOMATIC = frozenset({"/GoTo"})
EMBEDDED_KEYS = frozenset({"/EmbeddedFiles", "/EF"})
EMBEDDED_TYPES = frozenset({"/EmbeddedFile", "/FileAttachment"})  # values of /Type or /Subtype
MAX_NODES = 2_000_000  # bounded work for one file
MAX_OBJECTS = 500_000
TAIL = 2048
# what pypdf reports when it had to guess where objects are (messages as templates, before formatting)
REPAIRS = (
    "Object ID",
    "Object %(idnum)d %(generation)d found",
    "Object %(idnum)d %(generation)d not defined",
    "incorrect startxref",
    "Negative startxref",
    "Ignoring wrong pointing object",
    "CAUTION: startxref",
    "found startxref pointing",
    "Invalid/Truncated xref",
    "entry %(num)d in Xref table invalid",
    "Circular xref",
    "Previous trailer cannot be read",
    "XRef object at",
    "Invalid parent xref",
    "parsing for Object Streams",
    'Cannot find "/Root"',
    "Invalid Root object",
    "Searching object with",
    "EOF marker not found",
    "EOF marker seems truncated",
)
_STARTXREF = re.compile(rb"startxref\s+(\d+)\s*$")
_XREF_TARGET = re.compile(rb"\s*(?:xref|\d+\s+\d+\s+obj)")


class _RepairLog(logging.Handler):
    """Collects, per thread, the repairs pypdf reports (as log warnings) while one file is read."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        seen = getattr(self.local, "seen", None)
        if seen is not None and str(record.msg).startswith(REPAIRS):
            seen.append(str(record.msg))

    @contextmanager
    def watching(self) -> Iterator[list[str]]:
        self.local.seen = []
        try:
            yield self.local.seen
        finally:
            self.local.seen = None


_REPAIRS = _RepairLog()
_PYPDF_LOG = logging.getLogger("pypdf")
_PYPDF_LOG.addHandler(_REPAIRS)
_PYPDF_LOG.setLevel(logging.WARNING)  # seen here whatever level the service logs at


def check_pdf(stream: IO[bytes]) -> None:
    """Raise Refused when the PDF is cut short or broken, is encrypted, or holds active or embedded content."""
    check_structure(stream)
    stream.seek(0)
    with warnings.catch_warnings(), _REPAIRS.watching() as repairs:
        warnings.simplefilter("ignore")
        try:
            reader = PdfReader(stream, strict=False)
            if reader.is_encrypted:
                raise Refused(
                    "encrypted_pdf",
                    "Encrypted or password-protected PDFs are not accepted.",
                    "Šifrēti vai ar paroli aizsargāti PDF netiek pieņemti.",
                )
            if len(reader.pages) < 1:
                raise unreadable("PDF")
            found = active_content(reader)
        except Refused:
            raise
        except Exception:  # pypdf raises many kinds on broken files
            raise unreadable("PDF") from None
        if repairs:  # objects not where the file says, found by guessing
            raise unreadable("PDF")
    if found in EMBEDDED_KEYS or found in EMBEDDED_TYPES:
        raise embedded_file("PDF")
    if found:
        raise Refused(
            "active_content",
            f"PDFs with scripts, forms that submit, or actions that start programs are not accepted ({found}).",
            f"PDF ar skriptiem, formām, kas sūta datus, vai darbībām, kas palaiž programmas, netiek pieņemti "
            f"({found}).",
            found=found,
        )


def check_structure(stream: IO[bytes]) -> None:
    """The file ends with %%EOF after a startxref that points at a cross-reference; nothing but blanks after."""
    size = stream.seek(0, 2)
    stream.seek(max(0, size - TAIL))
    tail = stream.read(TAIL)
    end = tail.rfind(b"%%EOF")
    if end < 0:  # cut short
        raise unreadable("PDF")
    if tail[end + 5 :].strip(PADDING):  # an archive, a page or a script appended
        raise hidden_content("PDF")
    found = _STARTXREF.search(tail[:end])
    if found is None:
        raise unreadable("PDF")
    offset = int(found.group(1))
    if offset >= size:
        raise unreadable("PDF")
    stream.seek(offset)
    if not _XREF_TARGET.match(stream.read(64)):
        raise unreadable("PDF")


def active_content(reader: PdfReader) -> str | None:
    """The first active or embedded thing in any object of the file (object streams included), or None."""
    refs: list[IndirectObject] = [
        IndirectObject(idnum, generation, reader) for generation, table in reader.xref.items() for idnum in table
    ]
    refs += [IndirectObject(idnum, 0, reader) for idnum in reader.xref_objStm]
    budget = [MAX_NODES]
    found = _scan(reader.trailer, budget)
    for ref in refs:
        if found:
            return found
        found = _scan(reader.get_object(ref), budget)
    return found


def _scan(root: Any, budget: list[int]) -> str | None:
    """Look through one object and its direct children; indirect ones are scanned on their own."""
    stack = [root]
    while stack:
        budget[0] -= 1
        if budget[0] < 0:
            raise ValueError("PDF too complex to inspect")
        obj = stack.pop()
        if isinstance(obj, DictionaryObject):
            if obj.get("/Subtype") == "/Image":
                _check_image(obj)
            for key, value in obj.items():
                if key in ACTIVE_KEYS or key in EMBEDDED_KEYS:
                    return str(key)
                if key == "/S" and value in ACTIVE_ACTIONS:
                    return str(value)
                if key in ("/Type", "/Subtype") and value in EMBEDDED_TYPES:
                    return str(value)
                if key in AUTOMATIC_KEYS and _runs_something(value, key == "/AA"):
                    return str(key)
                if isinstance(value, DictionaryObject | ArrayObject):
                    stack.append(value)
        elif isinstance(obj, ArrayObject):
            stack.extend(v for v in obj if isinstance(v, DictionaryObject | ArrayObject))
    return None


def _runs_something(value: Any, triggers: bool) -> bool:
    """Whether an /OpenAction (or any action of an /AA) does more than go to a page of this file."""
    value = _resolve(value)
    if not isinstance(value, DictionaryObject):
        return False  # an /OpenAction that is a destination: show this page
    stack = [_resolve(v) for v in value.values()] if triggers else [value]
    for _ in range(10_000):
        if not stack:
            return False
        action = stack.pop()
        if isinstance(action, ArrayObject):
            stack.extend(_resolve(a) for a in action)
        elif isinstance(action, DictionaryObject):
            if action.get("/S") not in HARMLESS_AUTOMATIC:
                return True
            if "/Next" in action:  # a chain of actions: each must be harmless
                stack.append(_resolve(action["/Next"]))
    return True


def _resolve(value: Any) -> Any:
    return value.get_object() if isinstance(value, IndirectObject) else value


def _check_image(obj: DictionaryObject) -> None:
    """An image inside the PDF claiming more pixels than any scan needs is a decompression bomb."""
    width, height = _resolve(obj.get("/Width")), _resolve(obj.get("/Height"))
    if isinstance(width, int) and isinstance(height, int):
        check_dimensions(int(width), int(height))
