"""Runs the benchmarks on one set of bundled servers and prints the table.

    python -m bench                 every benchmark (at most about 12 minutes on 2 cores)
    python -m bench --quick         fewer requests, a smaller country (at most about 6 minutes)
    python -m bench --json PATH     also write the results as JSON
    python -m bench --only outbox   some benchmarks only (comma-separated names)

Exit status: 0 when every benchmark ran (a missed target is reported, not an error; `--strict` makes
it exit 2), 1 when a benchmark failed to run.
"""

from __future__ import annotations

import argparse
import fcntl
import importlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from .core import BENCH_VAR, Benchmark, Context, Row, log, machine, table

# One module per benchmark, in the order they run; each has a module-level BENCHMARK.
MODULES = (
    "bench.api_identity",
    "bench.outbox",
    "bench.pipeline",
    "bench.national",
    "bench.statements",
)

# Seconds each benchmark may take at most (normal, quick).
BUDGETS = {
    "api_identity": (105.0, 55.0),
    "outbox": (60.0, 35.0),
    "pipeline": (150.0, 90.0),
    "national": (330.0, 120.0),
    "statements": (90.0, 60.0),
}
DEFAULT_BUDGET = (60.0, 30.0)
KEEP_LOG_DIRS = 5


def load(names: list[str] | None) -> list[Benchmark]:
    found = [importlib.import_module(m).BENCHMARK for m in MODULES]
    if not names:
        return found
    known = {b.name: b for b in found}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {unknown}; choose from {sorted(known)}")
    return [known[n] for n in names]


def _raise_interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _prune_stale_roots() -> None:
    """Scratch directories of runs that were killed: their lock is free (servers died with them)."""
    for root in BENCH_VAR.glob("run-*"):
        lock = root / "servers" / "devstack.lock"
        if not lock.exists():
            if time.time() - root.stat().st_mtime > 3600:
                shutil.rmtree(root, ignore_errors=True)
            continue
        fd = os.open(lock, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a run in progress
        finally:
            os.close(fd)
        shutil.rmtree(root, ignore_errors=True)


def _log_dir() -> Path:
    base = BENCH_VAR / "logs"
    base.mkdir(parents=True, exist_ok=True)
    for old in sorted(p for p in base.iterdir() if p.is_dir())[:-KEEP_LOG_DIRS]:
        shutil.rmtree(old, ignore_errors=True)
    path = base / f"{datetime.now():%Y%m%d-%H%M%S}-{os.getpid()}"
    path.mkdir()
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a shorter run with fewer requests and messages")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results to PATH as JSON")
    parser.add_argument("--only", metavar="NAMES", help="comma-separated benchmark names")
    parser.add_argument("--strict", action="store_true", help="exit 2 when a known target is missed")
    args = parser.parse_args(argv)
    benchmarks = load([n.strip() for n in args.only.split(",") if n.strip()] if args.only else None)

    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGHUP, _raise_interrupt)
    # a last resort: whatever hangs, the run ends (cleanly, through the finally below) well after
    # every benchmark's own budget has passed
    budgets = [BUDGETS.get(b.name, DEFAULT_BUDGET)[1 if args.quick else 0] for b in benchmarks]
    signal.signal(signal.SIGALRM, _raise_interrupt)
    signal.alarm(int(sum(budgets)) + 120)

    from devstack import Stack

    started = time.monotonic()
    started_at = datetime.now(UTC)
    BENCH_VAR.mkdir(parents=True, exist_ok=True)
    _prune_stale_roots()
    logs = _log_dir()
    root = Path(tempfile.mkdtemp(dir=BENCH_VAR, prefix=f"run-{os.getpid()}-"))
    wanted = tuple(dict.fromkeys(s for b in benchmarks for s in b.servers))
    # env={}: always our own servers on 127.0.0.1, whatever URLs the shell has
    stack = Stack(root / "servers", want=wanted, env={})
    rows: list[Row] = []
    failures: dict[str, str] = {}
    notes: list[str] = []
    interrupted = False
    info = machine()
    load_at_start = os.getloadavg()[0]
    log(
        f"machine: {info['usable_cores']} usable cores ({info['cpu']}), {info['memory_gb']} GB; "
        f"{'quick' if args.quick else 'full'} run; logs in {logs}"
    )
    try:
        log(f"starting {', '.join(wanted)} under {root}")
        servers = stack.start()
        for bench in benchmarks:
            normal, quick = BUDGETS.get(bench.name, DEFAULT_BUDGET)
            budget = quick if args.quick else normal
            ctx = Context(
                quick=args.quick,
                root=root / bench.name,
                logs=logs,
                servers=dict(servers),
                create_database=stack.create_database,
                deadline=time.monotonic() + budget,
            )
            ctx.root.mkdir(parents=True, exist_ok=True)
            log(f"{bench.name}: {bench.title} (at most {budget:.0f}s)")
            t0 = time.monotonic()
            try:
                rows.extend(bench.run(ctx))
            except Exception as exc:
                failures[bench.name] = f"{type(exc).__name__}: {exc}"
                traceback.print_exc(file=sys.stderr)
                log(f"{bench.name} FAILED: {type(exc).__name__}: {exc}")
            notes.extend(f"{bench.name}: {n}" for n in ctx.notes)
            log(f"{bench.name}: done in {time.monotonic() - t0:.0f}s")
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted; stopping")
    finally:
        signal.alarm(0)
        stack.stop()
        shutil.rmtree(root, ignore_errors=True)

    duration = time.monotonic() - started
    cores = f"{info['usable_cores']} cores usable ({info['logical_cores']} logical, {info['physical_cores']} physical)"
    print(f"PuMPuRS benchmarks, {started_at:%Y-%m-%d %H:%M} UTC, {'quick' if args.quick else 'full'} run")
    print(f"machine: {cores}, {info['cpu']}, {info['memory_gb']} GB RAM, Python {info['python']}, {info['system']}")
    print(
        f"load average (1 min): {load_at_start:.1f} at start, {os.getloadavg()[0]:.1f} at the end "
        "(anything above the core count is other work on the machine, and noise)"
    )
    print("every baseline was measured in this run on the same servers; ratio = value / baseline")
    print("* /healthz: measured in rounds interleaved with the other endpoints, samples pooled\n")
    if rows:
        print(table(rows))
    for note in notes:
        print(f"note: {note}")
    for name, error in failures.items():
        print(f"FAILED: {name}: {error}")
    missed = [r for r in rows if r.met is False]
    print(
        f"\n{len(rows)} figures, {len(missed)} target(s) missed, {len(failures)} benchmark(s) failed; "
        f"took {duration:.0f}s; logs in {logs}"
    )

    if args.json:
        payload = {
            "started_at": started_at.isoformat(),
            "duration_s": round(duration, 1),
            "quick": args.quick,
            "machine": info,
            "load_average": {"start": round(load_at_start, 2), "end": round(os.getloadavg()[0], 2)},
            "benchmarks": [b.name for b in benchmarks],
            "results": [r.as_dict() for r in rows],
            "failed": failures,
            "notes": notes,
            "interrupted": interrupted,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    if interrupted:
        return 130
    if failures:
        return 1
    return 2 if args.strict and missed else 0
