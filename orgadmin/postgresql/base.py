"""Django's PostgreSQL backend, with a health check that costs no round trip while the
connection is fine.

Django's check (CONN_HEALTH_CHECKS) sends `SELECT 1` before each request's first
query: one round trip of the three that a SCIM lookup makes. A kept connection that
PostgreSQL or the network closed while it sat idle (a restart, a failover's reset, a
proxy cut) has a readable socket: the end of the stream, or the server's last message.
So the socket is polled first, without waiting, and `SELECT 1` decides only when it is
readable. A connection that died without a word (a host gone with no reset) looks
quiet; its first query then fails that request with a 503, and Django checks it with
`SELECT 1` at the end of the request and replaces it (`close_if_unusable_or_obsolete`).
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def close_if_health_check_failed(self):
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and not self.pool
            and _socket_is_quiet(self.connection)
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()


def _socket_is_quiet(connection) -> bool:
    """Nothing to read on an idle connection's socket: no end of stream, no message."""
    if connection.closed:
        return False
    try:
        poller = select.poll()
        poller.register(connection.fileno(), select.POLLIN | select.POLLPRI)
        return not poller.poll(0)
    except (OSError, ValueError, AttributeError):  # no poll(), or no socket any more
        return False
