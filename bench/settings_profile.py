"""orgadmin's settings plus bench/query_count.py's middleware, outermost in both the
site's and the SCIM API's lists: for `bench/entra_sync.py --profile` only."""

from orgadmin.settings import *  # noqa: F403
from orgadmin.settings import API_MIDDLEWARE, MIDDLEWARE

MIDDLEWARE = ["bench.query_count.QueryCountMiddleware", *MIDDLEWARE]
API_MIDDLEWARE = ["bench.query_count.QueryCountMiddleware", *API_MIDDLEWARE]
