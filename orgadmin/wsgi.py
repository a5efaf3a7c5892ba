"""WSGI entry point for gunicorn: `gunicorn orgadmin.wsgi`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orgadmin.settings")

application = get_wsgi_application()

from orgadmin.checks import require_secret_key  # noqa: E402 - needs Django set up

# Refuse to serve without a key rather than fail on the first signed cookie.
require_secret_key()
