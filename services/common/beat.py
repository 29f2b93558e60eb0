"""The scheduler celery-redbeat runs, made to run for days: its lock kept, taken again, and Redis waited out.

celery-redbeat alone exits when its lock cannot be extended (`LockNotOwnedError`: the lock expired while the
scheduler slept its loop interval, or Redis restarted without it) and when Redis is unreachable during a tick.
Here a tick that finds the lock gone takes it again without waiting (or stands by while another scheduler holds
it, sending nothing), and a tick that cannot reach Redis sends nothing and tries again a loop interval later.
"""

from __future__ import annotations

from typing import Any

import structlog
from redbeat.schedulers import LUA_EXTEND_TO_SCRIPT, RedBeatScheduler, get_redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import LockError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = structlog.get_logger(__name__)


class SteadyScheduler(RedBeatScheduler):
    """RedBeatScheduler that survives a lost lock and a Redis restart instead of exiting."""

    holding = True  # redbeat's beat_init handler has taken the lock before the first tick
    lock: Any

    def tick(self, *args: Any, **kwargs: Any) -> float:
        try:
            if self.lock_key and not self._hold():
                return float(self.max_interval)  # another scheduler has the lock: stand by
            return float(super().tick(*args, **kwargs))
        except LockError:  # expired or gone with a Redis restart: the next tick takes it again
            self.holding = False
            log.warning("scheduler_lock_lost")
        except (RedisConnectionError, RedisTimeoutError) as exc:
            log.warning("scheduler_redis_unreachable", error_type=type(exc).__name__)
        return float(self.max_interval)

    def _hold(self) -> bool:
        """Hold the lock, taking it again when lost; False while another scheduler holds it."""
        if self.lock is None:  # Redis was away when the scheduler started
            client = get_redis(self.app)
            lock = client.lock(self.lock_key, timeout=self.lock_timeout, sleep=self.max_interval)
            lock.lua_extend = client.register_script(LUA_EXTEND_TO_SCRIPT)  # extends to, as redbeat's own
            self.lock = lock
            self.holding = False
        if self.holding:
            return True
        if not self.lock.acquire(blocking=False):
            return False
        self.holding = True
        self.setup_schedule()  # the entries, should Redis have come back without them
        log.info("scheduler_lock_taken_again")
        return True
