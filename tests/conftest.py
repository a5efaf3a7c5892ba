import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.test import override_settings

from tests import helpers


def pytest_collection_modifyitems(config, items):
    """Skip tests marked `postgres` on SQLite, which serialises every write."""
    if "postgresql" in django_settings.DATABASES["default"]["ENGINE"]:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in items:
        if item.get_closest_marker("postgres"):
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _plain_http_live_server():
    # The live server builds its middleware once per session, before the per-test
    # settings fixture runs; SecurityMiddleware would then redirect to HTTPS. Here,
    # not in tests/browser/, since any test may be the first to start it.
    with override_settings(
        SECURE_SSL_REDIRECT=False,
        SESSION_COOKIE_SECURE=False,
        CSRF_COOKIE_SECURE=False,
    ):
        yield


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Rate-limit counters (allauth's, SCIM's), used TOTP codes, cached tokens and the
    # request-log counter live in the cache: each test starts without another's.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _plain_http_in_tests(settings):
    # Production settings redirect to HTTPS; the test client and live server speak HTTP.
    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.ORGADMIN_BASE_URL = "https://orgadmin.test"
    # Tests read the SCIM request log right after each request: write each row at
    # once. tests/scim/test_request_log_buffer.py covers the buffered writer.
    settings.ORGADMIN_SCIM_REQUEST_LOG_FLUSH_MS = 0
    # PBKDF2 costs about half a second per password set; tests need none of its strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        },
    }


@pytest.fixture
def organization(db):
    return helpers.make_organization()


@pytest.fixture
def owner(organization):
    return organization.members.get(role="owner")


@pytest.fixture
def owner_client(client, owner):
    """The test client, signed in as the organization's owner."""
    assert client.login(email=owner.user.email, password=helpers.PASSWORD)
    return client


@pytest.fixture
def operator_user(db):
    return helpers.make_operator()
