"""The floor: a bare Django app doing only the user phase's essential database work.

Settings, URLs and the WSGI application in one module, for the benchmark only (never
mounted in orgadmin's URLs). `GET /scim/v2/Users?filter=userName eq "..."` runs one
indexed lowercase lookup, `POST /scim/v2/Users` one INSERT, on orgadmin's own member
table and its (organization, lower(user_name)) index; no middleware, no
authentication, no audit, no request log. bench/entra_sync.py serves it with the same
gunicorn settings, so the SCIM layer's share of a request is a ratio in one run:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/entra_sync.py --only floor
"""

import json
import os
import re

import dj_database_url
from django.apps import AppConfig

# ------------------------------------------------------------------------- settings

DEBUG = False
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "bench-floor-only")
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "bench.floor"


class OrgadminModels(AppConfig):
    """orgadmin's models without its ready(), which connects sign-in signals to allauth
    (not installed here)."""

    name = "orgadmin"


INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "bench.floor.OrgadminModels",
]
MIDDLEWARE: list[str] = []
AUTH_USER_MODEL = "orgadmin.User"
DATABASES = {
    # As orgadmin.settings: persistent connections, health-checked (by polling the
    # socket first, orgadmin/postgresql/base.py).
    "default": dj_database_url.parse(
        os.environ["DATABASE_URL"],
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
DATABASES["default"]["ENGINE"] = "orgadmin.postgresql"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
ORGANIZATION_ID = int(os.environ.get("BENCH_FLOOR_ORGANIZATION_ID", "1"))

# ---------------------------------------------------------------------------- views

USER_NAME = re.compile(r'userName eq "([^"]*)"', re.IGNORECASE)
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def users(request):
    from django.db.models.functions import Lower
    from django.db.models.lookups import Exact
    from django.http import HttpResponse, JsonResponse

    from orgadmin.models import Member

    if request.method == "GET":
        match = USER_NAME.search(request.GET.get("filter", ""))
        if match is None:
            return HttpResponse(status=400)
        found = (
            Member.objects.filter(
                Exact(Lower("user_name"), match[1].lower()),
                organization_id=ORGANIZATION_ID,
            )
            .values_list("scim_id", flat=True)
            .first()
        )
        resources = [] if found is None else [{"id": str(found)}]
        return JsonResponse(
            {"schemas": [LIST], "totalResults": len(resources), "Resources": resources}
        )
    if request.method == "POST":
        body = json.loads(request.body)
        member = Member.objects.create(
            organization_id=ORGANIZATION_ID,
            source=Member.Source.SCIM,
            user_name=body["userName"],
            external_id=body.get("externalId"),
            display_name=body.get("displayName", ""),
        )
        return JsonResponse(
            {"id": str(member.scim_id), "userName": member.user_name}, status=201
        )
    return HttpResponse(status=405)


def ready(request):
    from django.http import HttpResponse

    return HttpResponse("ok")


def _urlpatterns():
    from django.urls import path

    return [path("scim/v2/Users", users), path("", ready)]


urlpatterns = _urlpatterns()

# ------------------------------------------------------------------------------ WSGI

_handler = None


def application(environ, start_response):
    """Django's WSGI handler, built on the first request (this module is also the
    settings, which Django must import before it can build one)."""
    global _handler
    if _handler is None:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.floor")
        from django.core.wsgi import get_wsgi_application

        _handler = get_wsgi_application()
    return _handler(environ, start_response)


if __name__ == "__main__":
    import sys

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from bench.entra_sync import main

    main(["--only", "floor", *sys.argv[1:]])
