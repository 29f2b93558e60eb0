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


def hidden_content(what: str) -> Refused:
    """Another file or a web page inside or after this one (a polyglot): refused whatever it is."""
    return Refused(
        "hidden_content",
        f"The {what} file carries other content (an archive, a web page or data after its end); "
        "save or scan the document again as a plain file.",
        f"{what} datnē ir cits saturs (arhīvs, tīmekļa lapa vai dati aiz tās beigām); "
        "saglabājiet vai skenējiet dokumentu vēlreiz kā parastu datni.",
        media_type=what,
    )


def embedded_file(what: str) -> Refused:
    return Refused(
        "embedded_file",
        f"{what} files with other files embedded in them are not accepted.",
        f"{what} datnes ar tajās iegultām citām datnēm netiek pieņemtas.",
        media_type=what,
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
