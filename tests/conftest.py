import pytest

from tests import helpers


@pytest.fixture(autouse=True)
def _plain_http_in_tests(settings):
    # Production settings redirect to HTTPS; the test client and live server speak HTTP.
    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.ORGADMIN_BASE_URL = "https://orgadmin.test"
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
def operator_user(db):
    return helpers.make_operator()
