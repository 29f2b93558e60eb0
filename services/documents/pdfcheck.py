"""PDF inspection with pypdf: it must parse, must not be encrypted, must carry no JavaScript or launch action."""

from __future__ import annotations

import warnings
from typing import IO, Any

from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

from .errors import Refused, unreadable

# keys that hold scripts or start programs, wherever they appear (document, page, annotation, form field)
ACTIVE_KEYS = frozenset({"/JS", "/JavaScript", "/Launch"})
ACTIVE_ACTIONS = frozenset({"/JavaScript", "/Launch"})  # values of an action's /S
MAX_NODES = 2_000_000  # bounded work for one file


def check_pdf(stream: IO[bytes]) -> None:
    """Raise Refused when the PDF does not parse, is encrypted, or holds active content."""
    with warnings.catch_warnings():
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
    if found:
        raise Refused(
            "active_content",
            f"PDFs with scripts or launch actions are not accepted ({found}).",
            f"PDF ar skriptiem vai palaišanas darbībām netiek pieņemti ({found}).",
            found=found,
        )


def active_content(reader: PdfReader) -> str | None:
    """The first script or launch action in any object of the file (object streams included), or None."""
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
            for key, value in obj.items():
                if key in ACTIVE_KEYS:
                    return str(key)
                if key == "/S" and value in ACTIVE_ACTIONS:
                    return str(value)
                if isinstance(value, DictionaryObject | ArrayObject):
                    stack.append(value)
        elif isinstance(obj, ArrayObject):
            stack.extend(v for v in obj if isinstance(v, DictionaryObject | ArrayObject))
    return None
