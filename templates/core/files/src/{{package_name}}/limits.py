"""Per-user limits checked before the model runs: a request rate and a daily token budget.

Both are off unless `RATE_LIMIT_PER_MINUTE` or `DAILY_TOKEN_BUDGET` is set (then
`create_limiter()` returns a `Limiter`, otherwise None and nothing is counted).

- The rate counts a user's ChatKit requests in fixed one-minute windows. A JSON request counts
  when it arrives; a streamed request counts when it is about to run the model (an action that
  only updates a widget does not).
- The budget counts the tokens (input + output, from the Agents SDK's usage) of a user's turns
  per UTC day. A turn starts while the user is under the budget; the tokens of a turn that
  crosses it still count.

The counters live in Redis when `REDIS_URL` is set, so that every replica sees the same counts,
and in this process otherwise.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from redis.asyncio import Redis

from .settings import Settings

SECONDS_PER_DAY = 86_400
WINDOW_SECONDS = 60
# Token counters outlive their day a little, so a clock off by a few seconds still finds them.
TOKENS_TTL_SECONDS = SECONDS_PER_DAY + 3_600

LimitName = Literal["rate", "tokens"]


@dataclass(frozen=True)
class Refusal:
    """Why a request may not run now, and in how many seconds it may."""

    limit: LimitName
    retry_after: int

    @property
    def message(self) -> str:
        if self.limit == "rate":
            return f"Too many requests. Try again in {self.retry_after} seconds."
        return "Today's usage limit is reached. Try again tomorrow."


class Counters(Protocol):
    """Integer counters that expire: in Redis or in this process."""

    async def add(self, key: str, amount: int, ttl_seconds: int) -> int:
        """Add `amount` to `key` (created at 0, expiring `ttl_seconds` later); the new value."""
        ...

    async def get(self, key: str) -> int:
        """The value of `key` (0 when absent or expired)."""
        ...

    async def ping(self) -> None:
        """Raise when the counters cannot be reached."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class MemoryCounters:
    """Counters of this process only (each replica counts on its own)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._values: dict[str, tuple[int, float]] = {}
        self._next_sweep = 0.0

    async def add(self, key: str, amount: int, ttl_seconds: int) -> int:
        now = self._clock()
        self._sweep(now)
        value, expires = self._values.get(key, (0, now + ttl_seconds))
        if expires <= now:
            value, expires = 0, now + ttl_seconds
        self._values[key] = (value + amount, expires)
        return value + amount

    async def get(self, key: str) -> int:
        value, expires = self._values.get(key, (0, math.inf))
        return value if expires > self._clock() else 0

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._values.clear()

    def _sweep(self, now: float) -> None:
        """Drop expired counters once a minute, so memory follows the active users."""
        if now < self._next_sweep:
            return
        self._values = {k: v for k, v in self._values.items() if v[1] > now}
        self._next_sweep = now + WINDOW_SECONDS


class RedisCounters:
    """Counters in Redis, shared by every replica; keys start with `prefix`."""

    def __init__(self, url: str, prefix: str) -> None:
        self._redis: Redis = Redis.from_url(url)
        self._prefix = prefix

    async def add(self, key: str, amount: int, ttl_seconds: int) -> int:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incrby(self._prefix + key, amount)
            pipe.expire(self._prefix + key, ttl_seconds, nx=True)
            value, _ = await pipe.execute()
        return int(value)

    async def get(self, key: str) -> int:
        value = await self._redis.get(self._prefix + key)
        return int(value) if value is not None else 0

    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()


class Limiter:
    """The per-user rate and daily token budget, on shared or local counters."""

    def __init__(
        self,
        counters: Counters,
        *,
        requests_per_minute: int | None,
        daily_tokens: int | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.counters = counters
        self._requests_per_minute = requests_per_minute
        self._daily_tokens = daily_tokens
        self._clock = clock

    async def check_request(self, user_id: str) -> Refusal | None:
        """Count one request of the user; a refusal when it exceeds the rate."""
        if self._requests_per_minute is None:
            return None
        now = self._clock()
        window = int(now // WINDOW_SECONDS)
        count = await self.counters.add(f"rate:{user_id}:{window}", 1, WINDOW_SECONDS)
        if count <= self._requests_per_minute:
            return None
        return Refusal("rate", _seconds_until((window + 1) * WINDOW_SECONDS, now))

    async def check_turn(self, user_id: str) -> Refusal | None:
        """Before the model runs: the budget (not counted when spent), then the rate."""
        if self._daily_tokens is not None:
            now = self._clock()
            day = int(now // SECONDS_PER_DAY)
            if await self.counters.get(f"tokens:{user_id}:{day}") >= self._daily_tokens:
                return Refusal("tokens", _seconds_until((day + 1) * SECONDS_PER_DAY, now))
        return await self.check_request(user_id)

    async def record_tokens(self, user_id: str, tokens: int) -> None:
        """Add a turn's tokens to the user's count of today (UTC)."""
        if self._daily_tokens is None or tokens <= 0:
            return
        day = int(self._clock() // SECONDS_PER_DAY)
        await self.counters.add(f"tokens:{user_id}:{day}", tokens, TOKENS_TTL_SECONDS)

    async def close(self) -> None:
        await self.counters.close()


def create_limiter(settings: Settings) -> Limiter | None:
    """The limiter the settings ask for, or None when no limit is set."""
    if settings.rate_limit_per_minute is None and settings.daily_token_budget is None:
        return None
    counters: Counters = (
        RedisCounters(settings.redis_url, settings.redis_key_prefix)
        if settings.redis_url is not None
        else MemoryCounters()
    )
    return Limiter(
        counters,
        requests_per_minute=settings.rate_limit_per_minute,
        daily_tokens=settings.daily_token_budget,
    )


def _seconds_until(moment: float, now: float) -> int:
    return max(1, math.ceil(moment - now))
