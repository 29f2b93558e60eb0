"""A month on the wire: `YYYY-MM` in every request and response of every service; its first day in Python."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from marshmallow import ValidationError, fields

# the programme's months are of this century: an earlier or later one is a typing error, not a claim
MONTH_PATTERN = r"^20[0-9]{2}-(0[1-9]|1[0-2])$"
_MONTH = re.compile(MONTH_PATTERN)
MONTH_ERROR = "A month as YYYY-MM. / Mēnesis formātā GGGG-MM."


def parse_month(value: Any) -> date:
    """The first day of a `YYYY-MM` month; ValueError for anything else (a full date included)."""
    text = str(value)
    if not _MONTH.match(text):
        raise ValueError(MONTH_ERROR)
    return date(int(text[:4]), int(text[5:7]), 1)


def month_text(value: date | str) -> str:
    """`YYYY-MM` of a date, or of a month already written so."""
    if isinstance(value, date):
        return f"{value.year:04d}-{value.month:02d}"
    parse_month(value)
    return value


class Month(fields.Field):
    """A month as `YYYY-MM` (OpenAPI: a string with that pattern); loaded as the month's first day."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"type": "string", "pattern": MONTH_PATTERN, "example": "2026-10", "description": "YYYY-MM"}
        metadata.update(kwargs.pop("metadata", None) or {})
        super().__init__(metadata=metadata, **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else month_text(value)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        try:
            return parse_month(value)
        except ValueError:
            raise ValidationError(MONTH_ERROR) from None
