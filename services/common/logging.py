"""structlog JSON logs carrying the request id and task id; personal codes are masked."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

# what looks like a Latvian personal code never reaches a log line: the old format DDMMYY-CXXXX (a day, a month,
# a century digit 0-2) or the new one 32..39, with or without its hyphen, standing alone. Digits inside a longer
# run of letters, digits or hyphens (a request id's hex, a UUID) are an id, and ids are what logs exist to show;
# so are registration numbers (90000051525), which no day starts with
PERSONAL_CODE = re.compile(
    r"(?<![0-9A-Za-z-])"
    r"(?:(?:0[1-9]|[12]\d|3[01])(?:0[1-9]|1[0-2])\d\d-?[0-2]\d{4}|3[2-9]\d{4}-?\d{5})"
    r"(?![0-9A-Za-z-])"
)
MASK = "***********"


def mask_text(text: str) -> str:
    """The text with anything that looks like a personal code masked."""
    return PERSONAL_CODE.sub(MASK, text)


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_mask(v) for v in value)
    return value


def mask_personal_codes(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    return {k: _mask(v) for k, v in event_dict.items()}


_configured = False
_level: int | None = None


def configured_level() -> int | None:
    """The root level configure_logging set in this process (LOG_LEVEL), or None before it ran."""
    return _level


def configure_logging(service: str, fmt: str = "json", level: str = "INFO") -> None:
    """Configure structlog and the stdlib root logger once per process."""
    global _configured, _level
    if _configured:
        return
    _configured = True
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        # a traceback a worker printed, gathered into one event (celery_app.OutputToLog)
        structlog.stdlib.ExtraAdder(allow=("exception",)),
        mask_personal_codes,
    ]
    renderer: Any = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            lambda _l, _m, ev: {"service": service, **ev},
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    _level = root.level
    for noisy in ("werkzeug",):
        logging.getLogger(noisy).setLevel(logging.WARNING)
