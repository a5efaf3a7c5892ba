"""Settings of the peer: stock django-scim2 with its default adapters and filters."""

import os

import dj_database_url

DEBUG = False
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "bench-peer-only")
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "bench.peer.urls"
WSGI_APPLICATION = "bench.peer.wsgi.application"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django_scim",
    "bench.peer",
]
MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "bench.peer.middleware.BearerTokenMiddleware",
]
AUTH_USER_MODEL = "peer.User"
DATABASES = {
    # As orgadmin.settings: persistent connections, health-checked.
    "default": dj_database_url.parse(
        os.environ["DATABASE_URL"],
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True

SCIM_SERVICE_PROVIDER = {
    "NETLOC": "127.0.0.1",
    "GROUP_MODEL": "bench.peer.models.Group",
    "AUTHENTICATION_SCHEMES": [
        {
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication scheme using the OAuth Bearer Token Standard",
        }
    ],
}
