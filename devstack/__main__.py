"""``python -m devstack up --root DIR``: start the stack, print ``export`` lines, run until stopped."""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
from pathlib import Path
from types import FrameType

from .servers import ALL_SERVERS, Stack


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _shutdown(stack: Stack) -> None:
    try:
        stack.stop()
    except KeyboardInterrupt:
        # A second Ctrl-C/SIGTERM made stop() SIGKILL everything; this call only confirms it.
        stack.stop()


def up(root: Path, want: list[str], fast: bool) -> int:
    # SIGTERM/SIGHUP take the same clean path as Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    stack = Stack(root, want, fast=fast)
    try:
        env = stack.start()
        for key, value in env.items():
            print(f"export {key}={shlex.quote(value)}")
        sys.stdout.flush()
        print(f"# devstack is up under {stack.root}; Ctrl-C to stop", file=sys.stderr, flush=True)
        while True:
            signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        _shutdown(stack)
        print("# devstack stopped", file=sys.stderr, flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack")
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start the servers and block until Ctrl-C / SIGTERM")
    p_up.add_argument("--root", type=Path, default=Path(".var/run"), help="data dir (default .var/run)")
    p_up.add_argument(
        "--only", default=",".join(ALL_SERVERS), help=f"comma separated subset of {','.join(ALL_SERVERS)}"
    )
    p_up.add_argument("--fast", action="store_true", help="no fsync (throwaway data only)")
    args = parser.parse_args(argv)
    want = [name.strip() for name in args.only.split(",") if name.strip()]
    return up(args.root, want, args.fast)


if __name__ == "__main__":
    sys.exit(main())
