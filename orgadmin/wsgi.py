"""WSGI entry point for gunicorn: `gunicorn orgadmin.wsgi`."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orgadmin.settings")
django.setup(set_prefix=False)

from orgadmin.handlers import SiteAndApiHandler  # noqa: E402 - needs Django set up

# The settings UI and the SCIM API, each through its own middleware.
application = SiteAndApiHandler()

from orgadmin.checks import require_secret_key  # noqa: E402 - needs Django set up

# Refuse to serve without a key rather than fail on the first signed cookie.
require_secret_key()
