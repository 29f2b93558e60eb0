"""Documents' process-wide wiring: the common runtime plus object storage, built lazily (no I/O at import)."""

from __future__ import annotations

from functools import cache, cached_property

from services.common.runtime import ServiceRuntime

from . import review
from .models import MESSAGING, Base
from .settings import DocumentsSettings, load_documents_settings
from .storage import Storage


class DocumentsRuntime(ServiceRuntime):
    settings: DocumentsSettings
    outbox_on_sent = staticmethod(review.checks_queued)

    @cached_property
    def storage(self) -> Storage:
        return Storage(self.settings)

    def readiness(self) -> dict[str, object]:
        """The database, the broker, and the bucket in object storage."""
        return {**super().readiness(), "storage": self.storage.ping}


@cache
def default_runtime() -> DocumentsRuntime:
    return make_runtime(load_documents_settings())


def make_runtime(settings: DocumentsSettings) -> DocumentsRuntime:
    return DocumentsRuntime(settings, Base.metadata, MESSAGING)
