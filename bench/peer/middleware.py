"""The peer's authentication: the bench's bearer token makes the request a superuser's.

django-scim2 leaves authentication to the host and only checks
`request.user.is_authenticated` (its SCIMAuthCheckMiddleware). One constant-time
comparison with a token from the environment, no query, as Zulip's SCIM check does.
"""

import os

from django.utils.crypto import constant_time_compare

from bench.peer.models import User

TOKEN = os.environ.get("BENCH_PEER_TOKEN", "peer-bench-token")
SCIM_ADMIN = User(username="scim-bench", is_staff=True, is_superuser=True)


class BearerTokenMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.expected = f"Bearer {TOKEN}"

    def __call__(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if constant_time_compare(header, self.expected):
            request.user = SCIM_ADMIN
        return self.get_response(request)
