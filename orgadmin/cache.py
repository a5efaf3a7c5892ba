"""The shared cache (Redis), degraded rather than down when Redis is unreachable.

Everything orgadmin keeps in the cache can be lost: rate-limit counters, the one-second
token cache, the request-log trim counter. So a Redis outage must not turn every SCIM
request and page into a 500: reads miss, writes are dropped, and counters start again,
which leaves the limits open until Redis is back. One warning a minute says so.
"""

from __future__ import annotations

import logging
import time
from functools import wraps

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

_WARN_EVERY = 60  # seconds


class TolerantRedisCache(RedisCache):
    _last_warning = 0.0

    def _unavailable(self, operation: str, error: Exception) -> None:
        now = time.monotonic()
        if now - TolerantRedisCache._last_warning >= _WARN_EVERY:
            TolerantRedisCache._last_warning = now
            logger.warning(
                "The cache (Redis) is unreachable (%s: %s); rate limits and cached "
                "tokens fall back to the database until it is back.",
                operation,
                error,
            )


def _tolerant(name: str, fallback):
    original = getattr(RedisCache, name)

    @wraps(original)
    def method(self, *args, **kwargs):
        try:
            return original(self, *args, **kwargs)
        except RedisError as error:
            self._unavailable(name, error)
            return fallback(*args, **kwargs)

    setattr(TolerantRedisCache, name, method)


def _missing(key, default=None, *args, **kwargs):
    return default


def _not_counted(key, *args, **kwargs):
    # Callers treat ValueError as "no such counter" and start it again with set().
    raise ValueError(f"Key {key!r} not found (the cache is unreachable).")


for _name, _fallback in {
    "get": _missing,
    "get_or_set": lambda key, default=None, *a, **k: (
        default() if callable(default) else default
    ),
    "get_many": lambda keys, *a, **k: {},
    "set": lambda *a, **k: None,
    "set_many": lambda data, *a, **k: list(data),
    # As if added: allauth takes its rate-limit lock with add(), and a lock that can
    # never be taken would refuse every sign-in.
    "add": lambda *a, **k: True,
    "touch": lambda *a, **k: False,
    "delete": lambda *a, **k: False,
    "delete_many": lambda *a, **k: None,
    "has_key": lambda *a, **k: False,
    "incr": _not_counted,
    "decr": _not_counted,
    "clear": lambda *a, **k: None,
}.items():
    _tolerant(_name, _fallback)
