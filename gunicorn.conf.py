"""gunicorn's settings: `gunicorn orgadmin.wsgi` reads this file from the working directory.

Sized for a 2-core box behind a TLS-terminating proxy: 5 worker processes of 2 threads,
so 10 requests at once and at most 10 PostgreSQL connections, about 100 MB of memory
each. The environment overrides each value, and a command-line flag overrides the
environment. bench/RESULTS.md ("gunicorn") has the measurements behind them.
"""

import multiprocessing
import os

# Only the proxy on this host reaches gunicorn; the proxy is what listens publicly.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# gunicorn's rule of thumb, 2 x cores + 1: 5 on a 2-core box. With more than one worker
# set REDIS_URL, or each process keeps its own sign-in and SCIM rate-limit counters.
workers = int(os.environ.get("GUNICORN_WORKERS", 2 * multiprocessing.cpu_count() + 1))

# Two threads per worker (gthread): a worker waiting on a DNS check (up to
# ORGADMIN_DNS_TIMEOUT) still answers a SCIM request, and keep-alive connections (Entra
# ID and Okta keep theirs open) are served, which the one-thread sync worker does not.
# On 2 cores the second thread neither adds nor costs much throughput in the SCIM sync
# (1.06x, within the noise, with a slightly longer p99 tail). Each thread may hold one
# database connection.
threads = int(os.environ.get("GUNICORN_THREADS", "2"))

# The longest request line gunicorn accepts (its default is 4094). A SCIM filter with a
# few dozen ids (Okta, Entra ID) makes a long URL; past the limit gunicorn answers an HTML
# 414 that an identity provider cannot read, below it orgadmin answers a SCIM 400. 8190
# is gunicorn's maximum and matches nginx's default 8k header buffers.
limit_request_line = 8190

# Restart each worker after about 10,000 requests, staggered so they never all restart
# at once: a slow leak cannot grow without bound. Not fewer: a new worker imports the
# project again on its first request (5% of the samples in bench/RESULTS.md at 1,000,
# where a SCIM sync restarted each worker every 30 seconds).
max_requests = 10000
max_requests_jitter = 1000
