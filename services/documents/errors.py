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
    """Object storage cannot be reached now; try again shortly."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(
            503,
            "storage_unavailable",
            "Document storage is not reachable now. Try again in a moment.",
            detail_lv="Dokumentu krātuve pašlaik nav sasniedzama. Mēģiniet vēlreiz pēc brīža.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
        self.reason = reason


_AWAY = {
    "storage_unavailable": ("document storage is", "dokumentu krātuve pašlaik nav sasniedzama"),
    "unavailable": ("the service's database is", "servisa datubāze pašlaik nav sasniedzama"),
}


class UploadNotStored(ApiError):
    """An upload cut short once its bytes were on their way: say only what is known, and that a retry is safe
    (with the same Idempotency-Key it answers this upload if it did land; without one, the sweep removes
    whatever landed, so nothing is stored twice)."""

    def __init__(self, code: str) -> None:
        en, lv = _AWAY[code]
        super().__init__(
            503,
            code,
            f"The upload did not complete: {en} not reachable now. The file may not have been stored; "
            "sending it again is safe.",
            detail_lv=f"Augšupielāde netika pabeigta: {lv}. Datne, iespējams, nav saglabāta; "
            "to var droši nosūtīt vēlreiz.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )


class UploadInProgress(ApiError):
    """Another request with this Idempotency-Key is uploading now: its answer will be this one's."""

    def __init__(self) -> None:
        super().__init__(
            409,
            "upload_in_progress",
            "An upload with this Idempotency-Key is still in progress. Send it again in a moment for its answer.",
            title="Upload in progress",
            title_lv="Augšupielāde notiek",
            detail_lv="Augšupielāde ar šo Idempotency-Key vēl notiek. Nosūtiet to vēlreiz pēc brīža, lai saņemtu "
            "tās atbildi.",
            headers={"Retry-After": "2"},
        )


class IdempotencyKeyReused(ApiError):
    """The key names an earlier upload of other bytes, metadata or target: nothing is stored for this one."""

    def __init__(self) -> None:
        super().__init__(
            422,
            "idempotency_key_reused",
            "This Idempotency-Key was used for a different upload (another file, metadata or document). "
            "Use a new key for a new upload.",
            title="Idempotency-Key reused",
            title_lv="Idempotency-Key atkārtots",
            detail_lv="Šī Idempotency-Key jau izmantota citai augšupielādei (citai datnei, metadatiem vai "
            "dokumentam). Jaunai augšupielādei izmantojiet jaunu atslēgu.",
        )
