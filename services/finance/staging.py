"""Statement files written under `staging/` of the documents bucket (the minio SDK, short timeouts), for
documents to copy into its own key layout. Documents owns the bucket; finance never creates it."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import structlog
import urllib3
from minio import Minio
from minio.error import MinioException

from services.common.errors import ApiError

from .settings import FinanceSettings

log = structlog.get_logger(__name__)


class StorageUnavailable(ApiError):
    """The documents bucket cannot be written now; nothing was recorded, try again shortly."""

    def __init__(self) -> None:
        super().__init__(
            503,
            "storage_unavailable",
            "Document storage is not reachable now; the statement was not stored. Try again.",
            detail_lv="Dokumentu krātuve pašlaik nav sasniedzama; pārskats netika saglabāts. Mēģiniet vēlreiz.",
            headers={"Retry-After": "30"},
        )


class Staging:
    def __init__(self, settings: FinanceSettings) -> None:
        parts = urlsplit(settings.s3_endpoint_url)
        self.bucket = settings.bucket
        self.client = Minio(
            parts.netloc,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            secure=parts.scheme == "https",
            region=settings.s3_region,
            http_client=urllib3.PoolManager(
                timeout=urllib3.Timeout(connect=settings.s3_connect_timeout, read=settings.s3_read_timeout),
                retries=urllib3.Retry(total=settings.s3_retries, read=0, backoff_factor=0.2),
                maxsize=4,
            ),
        )

    def put(self, key: str, body: bytes, media_type: str) -> None:
        if not key.startswith("staging/"):
            raise ValueError("finance writes only under staging/")
        try:
            self.client.put_object(self.bucket, key, io.BytesIO(body), len(body), content_type=media_type)
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            log.warning("staging_unavailable", error_type=type(exc).__name__)
            raise StorageUnavailable() from exc
