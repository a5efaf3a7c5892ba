"""orgadmin's settings plus bench/query_count.py's middleware, outermost: for
`bench/entra_sync.py --profile` only."""

from orgadmin.settings import *  # noqa: F403
from orgadmin.settings import MIDDLEWARE

MIDDLEWARE = ["bench.query_count.QueryCountMiddleware", *MIDDLEWARE]
