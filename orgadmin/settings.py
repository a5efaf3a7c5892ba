"""Django settings for orgadmin, read only from the environment (see .env.example)."""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from orgadmin.checks import parse_throttle_rate

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [
        item.strip()
        for item in os.environ.get(name, default).split(",")
        if item.strip()
    ]


def env_count(name: str, default: int) -> int:
    """A whole number, 0 or more; anything else stops start-up with the variable's name."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit():
        raise ImproperlyConfigured(f"{name}={value!r}: use a whole number, 0 or more.")
    return int(value)


DEBUG = env_bool("DJANGO_DEBUG")

# Required unless DJANGO_DEBUG=1. A missing key is refused where it matters, by
# orgadmin/wsgi.py and `check --deploy` (orgadmin.E001), so that commands which sign
# nothing, such as makemigrations, still run without one.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY and DEBUG:
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")

# The public URL that the SCIM Tenant URL and the SAML URLs are built from; never the
# request's Host header, which a client controls.
ORGADMIN_BASE_URL = os.environ.get("ORGADMIN_BASE_URL", "http://127.0.0.1:8000").rstrip(
    "/"
)

ORGADMIN_DNS_NAMESERVERS = env_list("ORGADMIN_DNS_NAMESERVERS")
ORGADMIN_DNS_TIMEOUT = float(os.environ.get("ORGADMIN_DNS_TIMEOUT", "3"))

# How many days an invitation link works; a resend starts a new period.
ORGADMIN_INVITATION_DAYS = env_count("ORGADMIN_INVITATION_DAYS", 7)

# Requests per token and period ("N/s", "N/min", "N/hour"), or "" for no limit. Generous:
# Entra ID treats 429 as a failed request, so this only stops a runaway client.
SCIM_THROTTLE_RATE = os.environ.get("ORGADMIN_SCIM_THROTTLE_RATE", "6000/min").strip()
parse_throttle_rate(SCIM_THROTTLE_RATE)  # a malformed rate stops the start-up

# Failed SCIM authentications allowed per client address and minute before 429; 0 for no
# limit. A valid token is never refused by it: Entra ID's provisioning service shares its
# addresses between tenants.
ORGADMIN_SCIM_BAD_TOKEN_LIMIT = env_count("ORGADMIN_SCIM_BAD_TOKEN_LIMIT", 20)

# How often, in milliseconds, each process writes the SCIM request log rows it holds
# (scim/request_log.py), in one INSERT from a thread of its own, so no request waits
# on its log; 0 writes each row before its answer leaves. The health view is that much
# behind, and a killed worker loses its last interval of rows (never a member's).
ORGADMIN_SCIM_REQUEST_LOG_FLUSH_MS = env_count(
    "ORGADMIN_SCIM_REQUEST_LOG_FLUSH_MS", 1000
)

# How many proxies of this deployment append to X-Forwarded-For in front of the app;
# orgadmin.client_ip and allauth's sign-in rate limits take the client address from it.
# 0 ignores the header (a client could write anything in it).
ORGADMIN_TRUSTED_PROXY_COUNT = env_count("ORGADMIN_TRUSTED_PROXY_COUNT", 0)
ALLAUTH_TRUSTED_PROXY_COUNT = ORGADMIN_TRUSTED_PROXY_COUNT

CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS") or [ORGADMIN_BASE_URL]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.saml",
    "allauth.mfa",
    "orgadmin",
    "scim",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "orgadmin.require_two_factor.RequireTwoFactorMiddleware",
    "orgadmin.middleware.DatabaseOutageMiddleware",
]

# The SCIM API's paths, served through API_MIDDLEWARE instead (orgadmin/handlers.py):
# a bearer-token API needs no session, CSRF, messages, sign-in or Content-Security-
# Policy. HTTPS redirect and HSTS still apply, and a database outage still answers 503.
API_PATH_PREFIXES = ["/scim/v2/"]
API_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "orgadmin.middleware.DatabaseOutageMiddleware",
]

ROOT_URLCONF = "orgadmin.urls"
WSGI_APPLICATION = "orgadmin.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "orgadmin.context_processors.organizations",
            ],
        },
    },
]

# Connections persist for DATABASE_CONN_MAX_AGE seconds; the health check replaces one
# the database dropped (a restart, a failover) at the start of the next request rather
# than failing it, so nothing needs a restart once the database is back. On PostgreSQL
# it first polls the socket (orgadmin/postgresql/base.py), so a live connection costs
# no SELECT 1.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "orgadmin.postgresql"
    if env_bool("DATABASE_PREPARED_STATEMENTS", default=True):
        # Parameters sent apart from the SQL, and each statement prepared on its
        # connection after its second use, so PostgreSQL parses and plans the
        # queries of a SCIM request once per connection, not once per request
        # (bench/RESULTS.md). Behind PgBouncer older than 1.21 in transaction mode
        # set DATABASE_PREPARED_STATEMENTS=0 (README, "Scaling").
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            server_side_binding=True, prepare_threshold=2
        )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "orgadmin.cache.TolerantRedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_USER_MODEL = "orgadmin.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
# User.email is unique through a case-insensitive constraint (Lower("email")), which the
# auth check does not recognise.
SILENCED_SYSTEM_CHECKS = ["auth.W004"]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
CSRF_FAILURE_VIEW = "orgadmin.views.csrf_failure"
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "orgadmin:home"
LOGOUT_REDIRECT_URL = "orgadmin:home"

# django-allauth: email is the only login; nobody signs up on their own (people arrive
# by invitation, SCIM or SSO), which the account adapter enforces.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
# An address counts as a person's only once proven: an invitation link, a password-reset
# link or (later) a signed SAML assertion marks allauth's EmailAddress verified, and
# orgadmin.actions links members only to such accounts, never on User.email alone.
# "none" keeps sign-in itself unchanged for accounts without a verified address
# (operators, owners made by create_organization): "mandatory" would stop them at a
# verification page, and with email management not mounted (orgadmin/urls.py) nobody
# can add an address to verify, so "optional" would change nothing.
ACCOUNT_EMAIL_VERIFICATION = "none"
# Completing a password reset proves the mailbox the link was sent to.
ACCOUNT_FORMS = {
    "reset_password_from_key": "orgadmin.allauth_adapters.ResetPasswordKeyForm",
    # Require SSO: a right password is refused for those who must use the IdP.
    "login": "orgadmin.forms.PasswordLoginForm",
}
ACCOUNT_ADAPTER = "orgadmin.allauth_adapters.AccountAdapter"
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_REAUTHENTICATION_TIMEOUT = 300
# SAML: each organization's SSOConfiguration is its allauth app (orgadmin.saml_adapter),
# through a provider that builds its URLs from ORGADMIN_BASE_URL (orgadmin.saml_provider).
SOCIALACCOUNT_ADAPTER = "orgadmin.saml_adapter.OrganizationSocialAccountAdapter"
SOCIALACCOUNT_PROVIDERS = {
    "saml": {"provider_class": "orgadmin.saml_provider.OrganizationSAMLProvider"}
}
SOCIALACCOUNT_ONLY = False
# Reading an IdP metadata URL: seconds before giving up, and the networks besides the
# public internet it may be on (comma-separated CIDRs, such as an ADFS at 10.0.0.0/8).
ORGADMIN_SSO_METADATA_TIMEOUT = float(
    os.environ.get("ORGADMIN_SSO_METADATA_TIMEOUT", "5")
)
ORGADMIN_SSO_METADATA_ALLOWED_NETWORKS = env_list(
    "ORGADMIN_SSO_METADATA_ALLOWED_NETWORKS"
)
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "orgadmin"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

EMAIL_BACKEND = os.environ.get(
    "DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
)
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "orgadmin@localhost")

REST_FRAMEWORK = {
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
}

# Behind a TLS-terminating proxy in production; plain HTTP when DEBUG.
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = int(
    os.environ.get("DJANGO_SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000")
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# django-csp. No page has an inline script, style or event handler (ours, allauth's and
# the Django admin's; tests/orgadmin/test_content_security_policy.py checks each), so
# none needs 'unsafe-inline'. form-action allows https: because a SAML sign-in form
# posts here and is then redirected to the organization's IdP (Entra ID, Okta, on their
# own origins), and browsers apply form-action to that redirect too.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        # allauth shows the TOTP QR code as a data: image.
        "img-src": ["'self'", "data:"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'", "https:"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {
        "handlers": ["console"],
        "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO"),
    },
}
