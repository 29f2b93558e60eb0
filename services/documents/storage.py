"""Object storage through the minio SDK only, so MinIO, SeaweedFS or any S3 server behave the same.

The SDK's default HTTP client can hang for minutes on a dead server (DESIGN.md, traps): ours has short
connect/read timeouts and a small retry budget, and every failure to reach the server becomes
StorageUnavailable (503 with Retry-After).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import IO, Any
from urllib.parse import quote, urlsplit

import structlog
import urllib3
from minio import Minio
from minio.commonconfig import ENABLED, GOVERNANCE, Filter
from minio.deleteobjects import DeleteObject
from minio.error import InvalidResponseError, MinioException, S3Error, ServerError
from minio.lifecycleconfig import AbortIncompleteMultipartUpload, LifecycleConfig, Rule
from minio.retention import Retention
from minio.versioningconfig import VersioningConfig

from .errors import StorageUnavailable
from .settings import DocumentsSettings

log = structlog.get_logger(__name__)

PART_SIZE = 5 * 1024 * 1024  # the smallest S3 allows: at most one part is held in memory
LIFECYCLE_RULE_ID = "pumpurs-abort-incomplete-multipart"
# S3 error codes that mean "the server is struggling", not "your request is wrong"
_TRANSIENT_CODES = frozenset({"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout"})
# codes a server answers for a bucket configuration it does not implement
_UNSUPPORTED_CODES = frozenset({"NotImplemented", "MalformedXML", "InvalidRequest", "InvalidArgument"})


@dataclass(frozen=True)
class StoredObject:
    size: int
    metadata: dict[str, str]
    version_id: str | None


@dataclass
class BucketSetup:
    """What setting up the bucket found; unsupported features are logged and reported, not fatal."""

    created: bool = False
    versioning: str = "unknown"
    object_lock: bool = False
    lifecycle: str = "unknown"


def _endpoint(url: str) -> tuple[str, bool]:
    parts = urlsplit(url)
    return parts.netloc, parts.scheme == "https"


def http_client(settings: DocumentsSettings) -> urllib3.PoolManager:
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=settings.s3_connect_timeout, read=settings.s3_read_timeout),
        retries=urllib3.Retry(
            total=settings.s3_retries,
            connect=settings.s3_retries,
            read=0,
            backoff_factor=0.2,
            status_forcelist=(502, 503, 504),
            allowed_methods=None,
        ),
        maxsize=10,
    )


@contextmanager
def reachable(action: str) -> Iterator[None]:
    """Turn "the server cannot be reached or is failing" into StorageUnavailable; let real answers through."""
    try:
        yield
    except S3Error as exc:
        if exc.code in _TRANSIENT_CODES:
            log.warning("storage_unavailable", action=action, code=exc.code)
            raise StorageUnavailable(exc.code or "") from exc
        raise
    except (urllib3.exceptions.HTTPError, OSError, ServerError, InvalidResponseError) as exc:
        log.warning(
            "storage_unavailable",
            action=action,
            error_type=type(exc).__name__,
            reason=str(getattr(exc, "reason", "") or exc)[:300],
        )
        raise StorageUnavailable(type(exc).__name__) from exc


class Storage:
    """The documents bucket: set up once, then put, stat, presign and delete object versions."""

    def __init__(self, settings: DocumentsSettings) -> None:
        self.settings = settings
        self.bucket = settings.bucket
        endpoint, secure = _endpoint(settings.s3_endpoint_url)
        # region given: the SDK would otherwise ask the server for it before signing anything
        self.client = Minio(
            endpoint,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            secure=secure,
            region=settings.s3_region,
            http_client=http_client(settings),
        )
        public, public_secure = _endpoint(settings.public_endpoint)
        # presigning is local computation: this client never sends a request
        self.signer = Minio(
            public,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            secure=public_secure,
            region=settings.s3_region,
        )
        self.object_lock = False
        self._ready = False
        self._lock = threading.Lock()

    # ---- setup ----------------------------------------------------------------------------------

    def ensure_bucket(self) -> BucketSetup:
        """Create the bucket (object lock on, so versions can be retained), turn versioning on and
        add a lifecycle rule aborting incomplete multipart uploads. Idempotent."""
        setup = BucketSetup()
        with reachable("setup"):
            if not self.client.bucket_exists(self.bucket):
                try:
                    self.client.make_bucket(self.bucket, object_lock=True)
                    setup.created = True
                except S3Error as exc:
                    if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise
            setup.object_lock = self._has_object_lock()
            setup.versioning = self._versioning_on()
            setup.lifecycle = self._abort_multipart_rule()
        self.object_lock = setup.object_lock
        self._ready = True
        log.info(
            "bucket_ready",
            bucket=self.bucket,
            created=setup.created,
            versioning=setup.versioning,
            object_lock=setup.object_lock,
            lifecycle=setup.lifecycle,
        )
        return setup

    def _has_object_lock(self) -> bool:
        try:
            self.client.get_object_lock_config(self.bucket)
        except S3Error as exc:
            # a bucket made before (or by a server) without object lock: retention rests on our checks
            log.warning("bucket_without_object_lock", code=exc.code)
            return False
        return True

    def _versioning_on(self) -> str:
        if self.client.get_bucket_versioning(self.bucket).status != ENABLED:
            try:
                self.client.set_bucket_versioning(self.bucket, VersioningConfig(ENABLED))
            except S3Error as exc:
                if exc.code not in _UNSUPPORTED_CODES:
                    raise
                log.warning("bucket_versioning_unsupported", code=exc.code)
                return f"unsupported ({exc.code})"
        return str(self.client.get_bucket_versioning(self.bucket).status)

    def _abort_multipart_rule(self) -> str:
        try:
            current = self.client.get_bucket_lifecycle(self.bucket)
        except S3Error as exc:
            if exc.code not in _UNSUPPORTED_CODES | {"NoSuchLifecycleConfiguration"}:
                raise
            current = None
        rules = list(current.rules) if current else []
        if any(r.rule_id == LIFECYCLE_RULE_ID for r in rules):
            return "present"
        rules.append(
            Rule(
                ENABLED,
                rule_filter=Filter(prefix=""),
                rule_id=LIFECYCLE_RULE_ID,
                abort_incomplete_multipart_upload=AbortIncompleteMultipartUpload(1),
            )
        )
        try:
            self.client.set_bucket_lifecycle(self.bucket, LifecycleConfig(rules))
        except S3Error as exc:
            if exc.code not in _UNSUPPORTED_CODES:
                raise
            # the sweep aborts stale multipart uploads itself, so this is a backstop lost, not data
            log.warning("bucket_lifecycle_unsupported", code=exc.code)
            return f"unsupported ({exc.code})"
        return "added"

    def ready(self) -> None:
        """Set the bucket up once per process, on first use."""
        if not self._ready:
            with self._lock:
                if not self._ready:
                    self.ensure_bucket()

    def ping(self) -> None:
        """Readiness: the server answers and the bucket is there."""
        self.ready()
        with reachable("ping"):
            if not self.client.bucket_exists(self.bucket):
                raise RuntimeError("the documents bucket is missing")

    # ---- objects --------------------------------------------------------------------------------

    def put(
        self,
        key: str,
        stream: IO[bytes],
        size: int,
        media_type: str,
        metadata: dict[str, str],
        retain_until: date | None = None,
    ) -> str | None:
        """Stream a file to `key` part by part; return the object's version id."""
        self.ready()
        retention = None
        if self.object_lock and retain_until is not None:
            until = datetime.combine(retain_until, time.min, tzinfo=UTC)
            if until > datetime.now(UTC) + timedelta(minutes=1):  # a date in the past cannot be set
                retention = Retention(GOVERNANCE, until)
        with reachable("put"):
            result = self.client.put_object(
                self.bucket,
                key,
                stream,  # type: ignore[arg-type]
                size,
                content_type=media_type,
                metadata=dict(metadata),  # type: ignore[arg-type]
                part_size=PART_SIZE,
                num_parallel_uploads=1,
                retention=retention,
            )
        return result.version_id

    def stat(self, key: str) -> StoredObject | None:
        """The object at `key`, or None when there is none."""
        with reachable("stat"):
            try:
                st = self.client.stat_object(self.bucket, key)
            except S3Error as exc:
                if exc.code in ("NoSuchKey", "NoSuchObject", "NoSuchVersion"):
                    return None
                raise
        meta = {
            k.lower().removeprefix("x-amz-meta-"): v
            for k, v in (st.metadata or {}).items()
            if k.lower().startswith("x-amz-meta-")
        }
        return StoredObject(int(st.size or 0), meta, st.version_id)

    def remove_all_versions(self, key: str) -> int:
        """Delete every version (and delete marker) of `key`; object lock refuses while retention runs."""
        removed = 0
        with reachable("remove"):
            for obj in self.client.list_objects(self.bucket, prefix=key, recursive=True, include_version=True):
                if obj.object_name != key:
                    continue
                self.client.remove_object(self.bucket, key, version_id=obj.version_id)
                removed += 1
        return removed

    def remove_unrecorded(self, key: str) -> int:
        """Delete every version of bytes no record points at (a failed upload's), past governance retention:
        they never became evidence. Needs the s3:BypassGovernanceRetention permission where lock is on."""
        with reachable("remove"):
            versions = [
                DeleteObject(key, obj.version_id)
                for obj in self.client.list_objects(self.bucket, prefix=key, recursive=True, include_version=True)
                if obj.object_name == key
            ]
            if not versions:
                return 0
            errors = list(self.client.remove_objects(self.bucket, versions, bypass_governance_mode=True))
        if errors:
            raise RuntimeError(f"S3 kept {len(errors)} version(s) of an unrecorded upload: {errors[0].code}")
        return len(versions)

    def presigned_get(
        self, key: str, *, filename: str, media_type: str, expires: timedelta, version_id: str | None = None
    ) -> str:
        """A short-lived GET link on the public endpoint that downloads under the original file name."""
        return self.signer.presigned_get_object(
            self.bucket,
            key,
            expires=expires,
            version_id=version_id,
            response_headers={
                "response-content-disposition": content_disposition(filename),
                "response-content-type": media_type,
            },
        )

    def abort_stale_multipart(self, older_than: timedelta) -> int:
        """Abort multipart uploads left open longer than `older_than` (backs the lifecycle rule)."""
        # minio-py 7 has no public call for this; the private ones are stable across 7.x
        lister: Any = getattr(self.client, "_list_multipart_uploads", None)
        aborter: Any = getattr(self.client, "_abort_multipart_upload", None)
        if lister is None or aborter is None:
            return 0
        cutoff = datetime.now(UTC) - older_than
        aborted = 0
        with reachable("abort_multipart"):
            try:
                uploads = lister(self.bucket).uploads
            except S3Error as exc:
                if exc.code in _UNSUPPORTED_CODES:
                    return 0
                raise
            for upload in uploads:
                started = upload.initiated_time
                if started is not None and started < cutoff:
                    aborter(self.bucket, upload.object_name, upload.upload_id)
                    aborted += 1
        return aborted


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the exact UTF-8 name (RFC 6266 / 5987)."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\%;' else "_" for ch in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def is_storage_error(exc: BaseException) -> bool:
    return isinstance(exc, StorageUnavailable | MinioException)
