"""The kernel's message guarantees, on real PostgreSQL, Redis and a real Celery worker."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from marshmallow import ValidationError
from sqlalchemy import func, insert, select

from tests.conftest import log_path, truncate_all
from tests.support import probe
from tests.support.workers import Worker, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def probe_env(make_database, redis_url) -> dict[str, str]:  # type: ignore[no-untyped-def]
    url = make_database("probe")
    from sqlalchemy import create_engine

    engine = create_engine(url)
    probe.metadata.create_all(engine)
    engine.dispose()
    return {"PROBE_DATABASE_URL": url, "PROBE_BROKER_URL": redis_url, "PROBE_SLOW_SECONDS": "3"}


@pytest.fixture(scope="module")
def runtime(probe_env: dict[str, str], monkeypatch_module: Any) -> Any:
    for key, value in probe_env.items():
        monkeypatch_module.setenv(key, value)
    return probe.make_runtime(probe.settings_from_env())


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


@pytest.fixture(scope="module")
def worker(probe_env: dict[str, str]) -> Iterator[Worker]:
    w = Worker("tests.support.probe_worker", "probe", probe_env, log_path("probe-worker"))
    w.start()
    yield w
    w.stop()


@pytest.fixture(autouse=True)
def clean(probe_env: dict[str, str], runtime: Any) -> None:
    truncate_all(probe_env["PROBE_DATABASE_URL"], [t.name for t in probe.metadata.sorted_tables])
    r = redis.Redis.from_url(probe_env["PROBE_BROKER_URL"])
    r.delete("probe", "notifications")


def effects(runtime: Any, value: int | None = None) -> list[Any]:
    with runtime.db.session() as s:
        q = select(probe.effects)
        if value is not None:
            q = q.where(probe.effects.c.value == value)
        return list(s.execute(q).all())


def outbox_rows(runtime: Any) -> list[Any]:
    with runtime.db.session() as s:
        return list(s.execute(select(probe.TABLES.outbox)).all())


def test_a_message_is_not_sent_when_its_transaction_rolls_back(runtime, worker):
    with pytest.raises(RuntimeError), runtime.db.session() as s:
        runtime.outbox.publish(s, "probe.record", {"value": 7})
        raise RuntimeError("the business change failed")
    with runtime.db.session() as s:
        runtime.outbox.publish(s, "probe.record", {"value": 8})  # a later, committed one
    wait_for(lambda: effects(runtime, 8), message="the committed message")
    assert effects(runtime, 7) == []
    assert [r.payload for r in outbox_rows(runtime)] == [{"value": 8}]


def test_a_committed_message_is_sent_once_and_has_one_effect(runtime, worker):
    with runtime.db.session() as s:
        [mid] = runtime.outbox.publish(s, "probe.record", {"value": 1})
    rows = wait_for(lambda: effects(runtime, 1), message="the effect")
    time.sleep(1.0)  # room for a wrong second delivery to show
    assert [r.message_id for r in effects(runtime, 1)] == [str(mid)]
    assert outbox_rows(runtime)[0].sent_at is not None
    assert len(rows) == 1


def test_the_messages_of_one_transaction_are_relayed_together_each_once_and_marked_in_one_statement(runtime, worker):
    from sqlalchemy import event

    updates: list[str] = []

    def seen(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("UPDATE OUTBOX"):
            updates.append(statement)

    event.listen(runtime.db.engine, "before_cursor_execute", seen)
    try:
        with runtime.db.session() as s:
            ids = [runtime.outbox.publish(s, "probe.record", {"value": v})[0] for v in (21, 22, 23)]
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", seen)
    assert len(updates) == 1  # the after-commit relay marks its round sent at once, not a statement a message
    wait_for(lambda: len(effects(runtime)) == 3, message="three effects")
    assert runtime.outbox.relay() == 0  # nothing is left to send again
    assert sorted(r.message_id for r in effects(runtime)) == sorted(str(i) for i in ids)
    assert {(r.sent_at is not None, r.attempts) for r in outbox_rows(runtime)} == {(True, 1)}


def test_an_invalid_payload_is_refused_on_send_and_nothing_is_recorded(runtime):
    with pytest.raises(ValidationError) as err, runtime.db.session() as s:
        runtime.outbox.publish(s, "probe.record", {"value": "many", "extra": 1})
    assert set(err.value.messages) == {"value", "extra"}
    assert outbox_rows(runtime) == []


def test_a_redelivered_message_has_one_effect(runtime, worker):
    envelope = {
        "message_id": str(uuid.uuid4()),
        "name": "probe.record",
        "version": 1,
        "correlation_id": None,
        "payload": {"value": 3},
    }
    for _ in range(3):  # the broker delivering the same message again, as at-least-once allows
        runtime.celery.send_task("probe.record", kwargs={"message": envelope}, queue="probe")
    wait_for(lambda: effects(runtime, 3), message="the effect")
    wait_for(lambda: "message_duplicate_skipped" in worker.log_text(), message="duplicates skipped")
    time.sleep(0.5)
    assert len(effects(runtime, 3)) == 1


def test_with_the_test_only_duplicate_switch_each_message_goes_twice_and_has_one_effect(runtime, worker):
    from services.common.messaging import Outbox

    doubling = Outbox(runtime.db.engine, runtime.celery, runtime.tables, runtime.contract, test_duplicate_sends=True)
    skipped = worker.log_text().count("message_duplicate_skipped")
    with runtime.db.session() as s:
        [mid] = doubling.publish(s, "probe.record", {"value": 4})
    wait_for(lambda: effects(runtime, 4), message="the effect")
    wait_for(lambda: worker.log_text().count("message_duplicate_skipped") > skipped, message="the copy skipped")
    assert [r.message_id for r in effects(runtime, 4)] == [str(mid)]


def test_an_invalid_payload_on_receive_is_dead_lettered_without_effect(runtime, worker):
    envelope = {
        "message_id": str(uuid.uuid4()),
        "name": "probe.record",
        "version": 1,
        "correlation_id": None,
        "payload": {"value": "x"},
    }
    runtime.celery.send_task("probe.record", kwargs={"message": envelope}, queue="probe")
    dead = wait_for(lambda: _dead(runtime), message="a dead letter")
    assert dead[0].task_name == "probe.record" and dead[0].error_type == "ValidationError"
    assert effects(runtime) == []


def test_a_failure_is_dead_lettered_and_a_replay_after_the_fix_has_one_effect(runtime, worker):
    with runtime.db.session() as s:
        runtime.outbox.publish(s, "probe.flaky", {"key": "k1"})
    dead = wait_for(lambda: _dead(runtime), message="a dead letter")
    assert dead[0].error_type == "ValueError"
    # the platform admin is told, through the outbox
    told = [r for r in outbox_rows(runtime) if r.task_name == "notifications.message_dead_lettered"]
    assert told and told[0].payload["dead_letter_id"] == str(dead[0].id)

    with runtime.db.session() as s:
        s.execute(insert(probe.switches).values(key="k1"))
    from services.common.messaging import replay_dead_letter

    for _ in range(2):  # a second replay of the same dead letter does nothing
        with runtime.db.session() as s:
            replay_dead_letter(s, runtime.outbox, runtime.tables, dead[0].id, "admin")
    wait_for(lambda: effects(runtime, 1), message="the replayed effect")
    time.sleep(0.5)
    assert len(effects(runtime, 1)) == 1
    assert _dead(runtime, open_only=False)[0].replayed_by == "admin"


def test_transient_failures_are_retried_with_backoff_then_dead_lettered(runtime, worker):
    with runtime.db.session() as s:
        runtime.outbox.publish(s, "probe.noop", {})
    dead = wait_for(lambda: _dead(runtime), timeout=30, message="a dead letter after retries")
    assert dead[0].attempts == 4  # the first try and three retries
    assert dead[0].error_type == "TransientFailure"


def test_a_message_committed_while_the_broker_is_down_is_sent_once_it_is_back(runtime, worker, stack):
    stack.stop_server("redis")
    try:
        started = time.monotonic()
        with runtime.db.session() as s:
            runtime.outbox.publish(s, "probe.record", {"value": 5})
        assert time.monotonic() - started < 15, "the commit must not hang on a dead broker"
        [row] = outbox_rows(runtime)
        assert row.sent_at is None and row.attempts >= 1  # kept, to be relayed later
    finally:
        stack.start_server("redis")
    wait_for(lambda: effects(runtime, 5), timeout=60, message="the message relayed after the outage")
    time.sleep(1.0)
    assert len(effects(runtime, 5)) == 1
    assert outbox_rows(runtime)[0].sent_at is not None


def test_a_worker_killed_mid_task_does_not_lose_the_message(runtime, probe_env, worker):
    import os
    import signal

    import psutil

    with runtime.db.session() as s:
        runtime.outbox.publish(s, "probe.slow_record", {"value": 9})
    wait_for(lambda: effects_uncommitted_started(worker), message="the slow task to start")
    children = psutil.Process(worker.proc.pid).children(recursive=True)
    busy = [c for c in children if c.status() != psutil.STATUS_ZOMBIE]
    for child in busy:  # kill the pool children; the main process replaces them
        os.kill(child.pid, signal.SIGKILL)
    wait_for(lambda: effects(runtime, 9), timeout=60, message="the task redone after the kill")
    time.sleep(1.0)
    assert len(effects(runtime, 9)) == 1


def test_a_whole_worker_killed_mid_task_gets_its_message_back_from_the_restore_sweep(runtime, probe_env, worker):
    """SIGKILL to the worker's whole process group leaves the message unacknowledged in Redis; a new worker
    puts it back once the visibility timeout has passed (the periodic sweep, not kombu's 100 s one) and runs it
    once."""
    import os
    import signal

    worker.stop()  # the module's worker (visibility 600 s) must not take the message first
    short = {**probe_env, "PROBE_VISIBILITY_TIMEOUT": "4", "PROBE_RESTORE_INTERVAL": "0.5"}
    doomed = Worker("tests.support.probe_worker", "probe", short, log_path("probe-worker-killed")).start()
    try:
        with runtime.db.session() as s:
            runtime.outbox.publish(s, "probe.slow_record", {"value": 13})
        wait_for(lambda: effects_uncommitted_started(doomed), message="the slow task to start")
        assert doomed.proc is not None
        os.killpg(doomed.proc.pid, signal.SIGKILL)  # the main process and its pool: nothing acknowledges
        doomed.proc.wait(10)
        successor = Worker("tests.support.probe_worker", "probe", short, log_path("probe-worker-successor")).start()
        try:
            # kombu alone would sweep again only about 100 s after the successor started
            wait_for(lambda: effects(runtime, 13), timeout=20, message="the lost message restored and run")
            time.sleep(1.0)
            assert len(effects(runtime, 13)) == 1
        finally:
            successor.stop()
    finally:
        worker.start()


def test_a_live_worker_keeps_what_it_holds_however_long_it_runs_or_waits(runtime, probe_env, worker):
    """A 2 s visibility timeout, a task that runs 6 s and a retry that waits 2-6 s for its countdown: the worker
    holding each renews its lease every 0.5 s, so the sweeps of two workers never put either back; the task runs
    once and the retry is delivered once (then dead-lettered, its budget spent)."""
    worker.stop()  # the module's worker sweeps with other timeouts
    short = {
        **probe_env,
        "PROBE_VISIBILITY_TIMEOUT": "2",
        "PROBE_RESTORE_INTERVAL": "0.5",
        "PROBE_SLOW_SECONDS": "6",
        "PROBE_RETRY_BACKOFF": "4",
        "PROBE_MAX_RETRIES": "1",
    }
    pair = [Worker("tests.support.probe_worker", "probe", short, log_path(f"probe-worker-lease-{n}")) for n in "ab"]
    try:
        for w in pair:
            w.start()
        with runtime.db.session() as s:
            [slow] = runtime.outbox.publish(s, "probe.slow_record", {"value": 21})
            [flaky] = runtime.outbox.publish(s, "probe.noop", {})

        def received(task_id: uuid.UUID) -> int:
            return sum(w.log_text().count(f"[{task_id}] received") for w in pair)

        wait_for(lambda: len(_dead(runtime)) == 1, timeout=30, message="the retried message dead-lettered")
        wait_for(lambda: effects(runtime, 21), timeout=30, message="the slow task's effect")
        time.sleep(3.0)  # past another visibility timeout: nothing comes back
        assert received(slow) == 1
        assert received(flaky) == 2  # the message and its one retry, each once
        assert len(_dead(runtime)) == 1 and len(effects(runtime, 21)) == 1
    finally:
        for w in pair:
            w.stop()
        worker.start()


def effects_uncommitted_started(worker: Worker) -> bool:
    return "probe.slow_record" in worker.log_text() and "received" in worker.log_text().lower()


def _dead(runtime: Any, open_only: bool = True) -> list[Any]:
    t = probe.TABLES.dead_letters
    with runtime.db.session() as s:
        q = select(t)
        if open_only:
            q = q.where(t.c.replayed_at.is_(None))
        return list(s.execute(q).all())


def test_outbox_pending_count_reports_unsent(runtime):
    assert runtime.outbox.pending_count() == 0
    with runtime.db.session() as s:
        assert s.execute(select(func.count()).select_from(probe.TABLES.outbox)).scalar_one() == 0


def test_a_savepoint_inside_the_transaction_does_not_send_early_or_lose_the_message(runtime, worker):
    from sqlalchemy import text

    with runtime.db.session() as s:
        [mid] = runtime.outbox.publish(s, "probe.record", {"value": 11})
        with s.begin_nested():  # released: fires after_commit for the savepoint only
            s.execute(text("SELECT 1"))
        # still pending until the real commit (the bug: the savepoint's release took them and sent nothing)
        assert s.info.get("outbox_ids") == [mid]
    wait_for(lambda: effects(runtime, 11), message="the effect")
    assert outbox_rows(runtime)[0].sent_at is not None
