"""Documents' own settings, on top of the common ones: object storage, limits, retention."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.common.contracts.documents import DOCUMENT_KINDS
from services.common.settings import Settings, common_values, read_env

DEFAULT_RETENTION_DAYS = 3650  # about ten years; ESF records outlive the programme (example value)


@dataclass(frozen=True)
class DocumentsSettings(Settings):
    s3_endpoint_url: str = "http://127.0.0.1:8333"
    s3_access_key: str = ""
    s3_secret_key: str = ""
    # presigned download links are built for this endpoint (what a browser reaches)
    s3_public_endpoint_url: str = ""
    s3_region: str = "us-east-1"
    bucket: str = "pumpurs-documents"
    s3_connect_timeout: float = 2.0
    s3_read_timeout: float = 20.0
    s3_retries: int = 1
    max_upload_bytes: int = 20 * 1024 * 1024
    presign_minutes: float = 5.0
    retention_default_days: int = DEFAULT_RETENTION_DAYS
    retention_days: dict[str, int] = field(default_factory=dict)  # kind -> days, overrides the default
    # an upload still `uploading` after this long was cut short by a crash; the sweep repairs it
    sweep_after_minutes: float = 15.0
    # multipart uploads the server still holds after this long are aborted (backs the lifecycle rule)
    abort_multipart_after_hours: float = 24.0
    # how long an upload's Idempotency-Key answers its retries with the same upload
    idempotency_hours: float = 24.0

    def retention_for(self, kind: str) -> int:
        return int(self.retention_days.get(kind, self.retention_default_days))

    @property
    def public_endpoint(self) -> str:
        return self.s3_public_endpoint_url or self.s3_endpoint_url


def load_documents_settings() -> DocumentsSettings:
    env = read_env()
    values = common_values("documents", env)
    raw: dict[str, str] = env.dict("DOCUMENTS_RETENTION_DAYS", {})
    retention = {str(k): int(v) for k, v in raw.items()}
    unknown = set(retention) - set(DOCUMENT_KINDS)
    if unknown:
        raise ValueError(f"DOCUMENTS_RETENTION_DAYS names unknown kinds: {sorted(unknown)}")
    endpoint = env.str("S3_ENDPOINT_URL", "http://127.0.0.1:8333")
    return DocumentsSettings(
        **values,
        s3_endpoint_url=endpoint,
        s3_access_key=env.str("S3_ACCESS_KEY", ""),
        s3_secret_key=env.str("S3_SECRET_KEY", ""),
        s3_public_endpoint_url=env.str("S3_PUBLIC_ENDPOINT_URL", "") or endpoint,
        s3_region=env.str("S3_REGION", "us-east-1"),
        bucket=env.str("DOCUMENTS_BUCKET", "pumpurs-documents"),
        s3_connect_timeout=env.float("S3_CONNECT_TIMEOUT", 2.0),
        s3_read_timeout=env.float("S3_READ_TIMEOUT", 20.0),
        s3_retries=env.int("S3_RETRIES", 1),
        max_upload_bytes=env.int("DOCUMENTS_MAX_UPLOAD_BYTES", 20 * 1024 * 1024),
        presign_minutes=env.float("DOCUMENTS_PRESIGN_MINUTES", 5.0),
        retention_default_days=env.int("DOCUMENTS_RETENTION_DEFAULT_DAYS", DEFAULT_RETENTION_DAYS),
        retention_days=retention,
        sweep_after_minutes=env.float("DOCUMENTS_SWEEP_AFTER_MINUTES", 15.0),
        abort_multipart_after_hours=env.float("DOCUMENTS_ABORT_MULTIPART_AFTER_HOURS", 24.0),
        idempotency_hours=env.float("DOCUMENTS_IDEMPOTENCY_HOURS", 24.0),
    )
