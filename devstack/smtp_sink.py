"""An SMTP sink for local runs and tests: every accepted message becomes one .eml file.

Run as ``python -m devstack.smtp_sink --host 127.0.0.1 --port 2525 --dir DIR``. Files are named
``<sequence>.eml`` (zero padded, continuing across restarts) so sorting gives arrival order, and
are written to a hidden temp file first and renamed, so a reader never sees half a message.
The envelope is prepended as ``X-Envelope-From`` / ``X-Envelope-To`` headers (Bcc recipients
only show up there). Any AUTH is accepted, so apps configured with credentials work.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email.policy
import os
import re
import signal
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

_NAME = re.compile(r"^(\d+)\.eml$")


def read_messages(directory: Path | str) -> list[EmailMessage]:
    """All messages the sink stored in `directory`, in arrival order."""
    parser = BytesParser(policy=email.policy.default)
    messages: list[EmailMessage] = []
    for path in sorted(Path(directory).glob("*.eml")):
        with open(path, "rb") as fh:
            msg = parser.parse(fh)
        assert isinstance(msg, EmailMessage)  # guaranteed by policy.default
        messages.append(msg)
    return messages


def _next_sequence(directory: Path) -> int:
    numbers = [int(m.group(1)) for p in directory.iterdir() if (m := _NAME.match(p.name))]
    return max(numbers, default=0) + 1


class FileSink:
    """aiosmtpd handler writing each message to its own file."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._seq = _next_sequence(directory)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        header = (
            f"X-Envelope-From: {envelope.mail_from}\r\nX-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode()
        name = f"{self._seq:010d}.eml"
        self._seq += 1
        tmp = self.directory / f".{name}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(header + content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.directory / name)
        return "250 Message accepted for delivery"


def _accept_any_auth(*_args: Any) -> Any:
    from aiosmtpd.smtp import AuthResult

    return AuthResult(success=True)


async def serve(host: str, port: int, directory: Path) -> None:
    from aiosmtpd.smtp import SMTP

    directory.mkdir(parents=True, exist_ok=True)
    for leftover in directory.glob(".*.tmp"):
        leftover.unlink(missing_ok=True)
    handler = FileSink(directory)
    loop = asyncio.get_running_loop()

    def factory() -> SMTP:
        return SMTP(
            handler,
            hostname="devstack-smtp-sink",
            enable_SMTPUTF8=True,
            auth_require_tls=False,
            authenticator=_accept_any_auth,
        )

    server = await loop.create_server(factory, host=host, port=port)
    stopped = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopped.set)
    print(f"smtp sink listening on {host}:{port}, writing to {directory}", flush=True)
    await stopped.wait()
    server.close()
    with contextlib.suppress(TimeoutError):  # newer Pythons also wait for open client sessions
        await asyncio.wait_for(server.wait_closed(), 2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.host, args.port, args.dir))


if __name__ == "__main__":
    main()
