"""Documents' own errors: refused files (422 with a code) and object storage being away (503)."""

from __future__ import annotations

from typing import Any

from services.common.errors import ApiError

RETRY_AFTER_SECONDS = 30


class Refused(ApiError):
    """A file the service will not store: 422 with a code a client can act on; nothing is stored."""

    def __init__(self, code: str, detail: str, detail_lv: str, **extra: Any) -> None:
        super().__init__(
            422, code, detail, title="File refused", title_lv="Datne noraidīta", detail_lv=detail_lv, **extra
        )


def unreadable(what: str) -> Refused:
    return Refused(
        "unreadable_file", f"The file does not parse as {what}.", f"Datni nevar nolasīt kā {what}.", media_type=what
    )


class StorageUnavailable(ApiError):
    """Object storage cannot be reached now; nothing was stored, try again shortly."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(
            503,
            "storage_unavailable",
            "Document storage is not reachable now; nothing was stored. Try again.",
            detail_lv="Dokumentu krātuve pašlaik nav sasniedzama; nekas netika saglabāts. Mēģiniet vēlreiz.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
        self.reason = reason
