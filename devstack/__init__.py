"""Bundled local servers (postgres, redis, S3, SMTP sink) for local runs and tests."""

from .servers import ALL_SERVERS, ENV_VARS, Revival, ServerStartError, Stack

__all__ = ["ALL_SERVERS", "ENV_VARS", "Revival", "ServerStartError", "Stack"]
