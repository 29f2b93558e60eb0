"""Finance's own settings, on top of the common ones: where statement files are staged for documents."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.settings import Settings, common_values, read_env


@dataclass(frozen=True)
class FinanceSettings(Settings):
    # statements are written under `staging/` of the documents bucket, with the same S3 settings documents uses
    s3_endpoint_url: str = "http://127.0.0.1:8333"
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_region: str = "us-east-1"
    bucket: str = "pumpurs-documents"
    s3_connect_timeout: float = 2.0
    s3_read_timeout: float = 20.0
    s3_retries: int = 1
    # how many claims one re-check task handles before it queues the rest
    recheck_batch: int = 500


def load_finance_settings() -> FinanceSettings:
    env = read_env()
    return FinanceSettings(
        **common_values("finance", env),
        s3_endpoint_url=env.str("S3_ENDPOINT_URL", "http://127.0.0.1:8333"),
        s3_access_key=env.str("S3_ACCESS_KEY", ""),
        s3_secret_key=env.str("S3_SECRET_KEY", ""),
        s3_region=env.str("S3_REGION", "us-east-1"),
        bucket=env.str("DOCUMENTS_BUCKET", "pumpurs-documents"),
        s3_connect_timeout=env.float("S3_CONNECT_TIMEOUT", 2.0),
        s3_read_timeout=env.float("S3_READ_TIMEOUT", 20.0),
        s3_retries=env.int("S3_RETRIES", 1),
        recheck_batch=env.int("FINANCE_RECHECK_BATCH", 500),
    )
