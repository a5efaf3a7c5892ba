import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from tests import helpers
from tests.helpers import ScimClient


@pytest.fixture
def scim(organization):
    return ScimClient(helpers.issue_token(organization))


@pytest.fixture
def other_organization(db):
    return helpers.make_organization("globex", domain="globex.example")


@pytest.fixture
def other_scim(other_organization):
    return ScimClient(helpers.issue_token(other_organization))


@pytest.fixture
def keep_the_test_connection():
    """For tests that call the WSGI application directly, as Django's test Client does:
    a request must not close the connection that holds the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)
