"""The Celery app factory: one queue per service, JSON only, late acks, bounded retries."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import structlog
from celery import Celery, bootsteps, signals
from celery.app.log import Logging as CeleryLogging
from celery.utils.log import LoggingProxy
from kombu import Queue

from .contracts import Contract
from .logging import configured_level
from .settings import Settings

REDBEAT_PREFIX = "redbeat:pumpurs:"
# the running scheduler holds this lock; the healthcheck looks for it
REDBEAT_LOCK_KEY = REDBEAT_PREFIX + ":lock"
SCHEDULER_CLASS = "services.common.beat:SteadyScheduler"


class OutputToLog(LoggingProxy):
    """What a worker or the scheduler writes to stdout/stderr, as log events: one per line, and one per exception
    with its traceback (Python prints a traceback piece by piece, a caret line alone; each piece was an event of
    its own). Of chained exceptions, each is an event, the line that links it to the one before in its traceback."""

    _CHAINED = ("During handling of the above exception", "The above exception was the direct cause")

    def __init__(self, logger: Any, loglevel: Any = None) -> None:
        super().__init__(logger, loglevel)
        self._partial = ""
        self._traceback: list[str] = []
        self._link = ""  # "The above exception was the direct cause…": the start of the next traceback

    def write(self, data: Any) -> int:
        if not data or self.closed or getattr(self._thread, "recurse_protection", False):
            return super().write(data)  # Celery's own handling of these cases
        text = self._partial + str(data)
        *lines, self._partial = text.split("\n")
        for line in lines:
            self._line(line)
        return len(data)

    def _line(self, line: str) -> None:
        if self._traceback:
            self._traceback.append(line)
            # a traceback ends with its exception's line, the first that is not indented
            if line and not line[0].isspace() and not line.startswith("Traceback"):
                self._emit_traceback()
        elif line.lstrip().startswith(("Traceback (most recent call last):", "+ Exception Group Traceback")):
            self._traceback = [self._link, line] if self._link else [line]
            self._link = ""
        elif line.startswith(self._CHAINED):
            self._link = line
        elif line.strip():
            super().write(line)

    def _emit_traceback(self) -> None:
        block, self._traceback = self._traceback, []
        last = next((x for x in reversed(block) if x.strip()), "Traceback")
        self._thread.recurse_protection = True
        try:
            level = max(self.loglevel, logging.ERROR)
            self.logger.log(level, last.strip(), extra={"exception": "\n".join(block).strip("\n")})
        finally:
            self._thread.recurse_protection = False

    def flush(self) -> None:
        if self._link:
            self._traceback.insert(0, self._link)
            self._link = ""
        if self._partial:
            line, self._partial = self._partial, ""
            self._line(line)
        if self._traceback:
            self._emit_traceback()


class ProcessLogging(CeleryLogging):
    """Celery's logging set-up, redirecting stdout/stderr through OutputToLog."""

    def redirect_stdouts_to_logger(
        self, logger: Any, loglevel: Any = None, stdout: bool = True, stderr: bool = True
    ) -> OutputToLog:
        proxy = OutputToLog(logger, loglevel)
        if stdout:
            sys.stdout = proxy  # type: ignore[assignment]
        if stderr:
            sys.stderr = proxy  # type: ignore[assignment]
        return proxy


def make_celery(settings: Settings, contract: Contract) -> Celery:
    """Build the Celery app of a service; it can send to every queue and consumes its own."""
    app = Celery(settings.service, broker=settings.broker_url, backend=settings.result_backend, log=ProcessLogging)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        task_queues=[Queue(q, routing_key=q) for q in contract.all_queues],
        task_default_queue=settings.service,
        task_create_missing_queues=False,
        task_routes={name: {"queue": spec.queue} for name, spec in contract.tasks.items()},
        task_soft_time_limit=settings.task_soft_time_limit,
        task_time_limit=settings.task_time_limit,
        task_ignore_result=True,
        result_expires=3600,
        # a worker takes a message only when a pool process is free: nothing waits in a worker that another,
        # idle one could run, or that a lost worker takes with it
        worker_prefetch_multiplier=1,
        worker_disable_prefetch=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=True,
        task_send_sent_event=False,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
        broker_transport_options={
            # how long a lost worker's messages stay away; a live worker renews its leases (install_leases)
            "visibility_timeout": settings.broker_visibility_timeout,
            # a sweeper killed mid-sweep blocks the others' sweeps for this long (kombu's default: 300 s)
            "unacked_mutex_expire": 15,
            "socket_connect_timeout": 3,
            "socket_timeout": 10,
            "retry_on_timeout": True,
        },
        result_backend_transport_options={"socket_connect_timeout": 3, "socket_timeout": 10},
        redis_socket_connect_timeout=3,
        redis_socket_timeout=10,
        enable_utc=True,
        timezone="Europe/Riga",
        beat_scheduler=SCHEDULER_CLASS,
        redbeat_redis_url=settings.broker_url,
        redbeat_key_prefix=REDBEAT_PREFIX,
        # short, so a tick against a frozen Redis fails (and is tried again) instead of hanging
        redbeat_redis_options={"socket_connect_timeout": 3, "socket_timeout": 10},
        # the lock is extended on every loop, so it must outlast several: equal to the interval, it expired
        # while the scheduler slept and redbeat exited with LockNotOwnedError every five minutes
        beat_max_loop_interval=settings.scheduler_max_interval,
        redbeat_lock_timeout=settings.scheduler_lock_timeout,
    )
    return app


def install_leases(app: Celery, interval: float) -> None:
    """Every `interval` seconds, renew the lease of each message this worker holds (running, or waiting for a
    retry's countdown), then put back the messages whose lease has passed the visibility timeout: those a lost
    worker took and never acknowledged (DESIGN.md, traps: a whole worker killed). So a lost worker's message
    comes back within the visibility timeout plus one interval, and a live worker's never does, however long it
    runs or waits."""

    class Leases(bootsteps.StartStopStep):
        requires = {"celery.worker.consumer.tasks:Tasks"}

        def __init__(self, c: Any, **kwargs: Any) -> None:
            self.tref: Any = None

        def start(self, c: Any) -> None:
            # on the worker's event loop, like kombu's own sweep: the channel is not shared across threads
            self.tref = c.timer.call_repeatedly(interval, _renew_then_restore, (c,), priority=10)

        def stop(self, c: Any) -> None:
            if self.tref is not None:
                self.tref.cancel()
                self.tref = None

        def shutdown(self, c: Any) -> None:
            self.stop(c)

    app.steps["consumer"].add(Leases)


def held_delivery_tags(qos: Any) -> set[str]:
    """The delivery tags of the messages this worker holds unacknowledged: on its channel (a retry waiting for
    its countdown included) and those its pool still runs from before a reconnection."""
    from celery.worker.state import active_requests

    tags = {tag for tag in qos._delivered if tag not in qos._dirty}
    for request in tuple(active_requests):
        if not request.acknowledged and request.message is not None:
            tags.add(request.message.delivery_tag)
    return tags


def _renew_then_restore(consumer: Any) -> None:
    channel: Any = getattr(getattr(consumer, "task_consumer", None), "channel", None)
    qos = getattr(channel, "qos", None)
    if qos is None or not hasattr(qos, "restore_visible"):  # not the Redis transport: no leases to keep
        return
    try:
        tags = held_delivery_tags(qos)
        if tags:
            with channel.conn_or_acquire() as client:
                # xx: only messages still unacknowledged; one acknowledged meanwhile stays gone
                client.zadd(qos.unacked_index_key, dict.fromkeys(tags, time.time()), xx=True)
        # interval=1: sweep on this call (kombu's own calls sweep on every tenth); a Redis mutex keeps one
        # sweep at a time across workers
        qos.restore_visible(num=getattr(channel, "unacked_restore_limit", None), interval=1)
    except Exception:  # the broker is away: the next round tries again
        structlog.get_logger(__name__).warning("unacked_restore_failed", exc_info=True)


def install_outbox_relay(app: Celery, outbox_factory: Any, interval: float) -> None:
    """Run the outbox relay thread inside every worker of this app."""
    from .messaging import RelayThread

    class OutboxRelay(bootsteps.StartStopStep):
        requires = {"celery.worker.components:Pool"}

        def __init__(self, worker: Any, **kwargs: Any) -> None:
            self.thread: RelayThread | None = None

        def start(self, worker: Any) -> None:
            self.thread = RelayThread(outbox_factory(), interval)
            self.thread.start()

        def stop(self, worker: Any) -> None:
            if self.thread:
                self.thread.stop()

    app.steps["worker"].add(OutboxRelay)


@signals.after_setup_logger.connect
def _keep_service_log_level(logger: Any = None, **_: Any) -> None:
    """Celery sets the root logger to the worker's --loglevel (WARNING when not given): LOG_LEVEL decides, as in
    the APIs, so a deployed worker logs its INFO events (ready, duplicates skipped) when LOG_LEVEL=INFO."""
    level = configured_level()
    if level is not None and logger is not None:
        logger.setLevel(level)


@signals.task_prerun.connect
def _bind_task_context(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(task_id=task_id, task=getattr(task, "name", None))


@signals.task_postrun.connect
def _clear_task_context(**_: Any) -> None:
    structlog.contextvars.clear_contextvars()
