"""scim2-tester (python-scim) checks the endpoint as an independent client would.

It discovers /ServiceProviderConfig, /Schemas and /ResourceTypes, then creates, reads,
queries, replaces, patches and deletes Users and Groups with values generated from the
schemas we publish. It runs in process through scim2-client's WSGI engine: the whole
Django stack (middleware, URLs, authentication with a real token) answers every request,
without a socket or a server thread, so the test keeps its database transaction on
SQLite and PostgreSQL alike.
"""

from django.core.wsgi import get_wsgi_application
from scim2_client.engines.wsgi import WSGISCIMClient
from scim2_tester import Status, check_server

from orgadmin import actions
from tests import helpers

BASE_URL = "http://testserver"

# Checks that disagree with a deliberate choice, by check and by what its message names.
NOT_APPLICABLE = {
    # We fill the read-only manager.displayName from the manager's record (RFC 7643
    # section 4.3: readOnly, set by the service provider); the tester expects back
    # exactly what it sent, without it.
    ("check_add_attribute", "manager"),
    ("check_replace_attribute", "manager"),
    # Same for each group member's read-only "display" label.
    ("check_add_attribute", "members"),
    ("check_replace_attribute", "members"),
    # A member is active or not: removing "active" is refused with 400 invalidValue
    # ("replace it with false to deactivate") rather than leaving it undefined.
    ("check_remove_attribute", "'active'"),
}


def test_scim2_tester_finds_no_failures(db, settings, keep_the_test_connection):
    settings.ORGADMIN_BASE_URL = BASE_URL
    # The tester invents users on random domains, so the domain rule is off here;
    # tests/scim/test_users.py covers it.
    organization = helpers.make_organization("acme", restrict_to_claimed_domains=False)
    # The tester creates and deletes dozens of users within a minute, which the
    # deprovisioning brake rightly stops (tests/scim/test_deprovisioning_brake.py);
    # an owner raises it for such a run.
    actions.update_deprovisioning_brake(
        organization, share_percent=100, minimum=1_000_000, actor=helpers.SYSTEM
    )
    client = WSGISCIMClient(
        get_wsgi_application(),
        base_url=f"{BASE_URL}/scim/v2",
        headers={"Authorization": f"Bearer {helpers.issue_token(organization)}"},
    )

    results = check_server(client)

    failures = [
        f"{result.title}: {result.reason}"
        for result in results
        if result.status in (Status.ERROR, Status.CRITICAL)
        and not any(
            result.title == title and marker in str(result.reason)
            for title, marker in NOT_APPLICABLE
        )
    ]
    assert failures == []
    assert sum(result.status == Status.SUCCESS for result in results) >= 100
    # POST /.search across resource types is answered too (RFC 7644 section 3.4.3).
    skipped = {r.title for r in results if r.status == Status.SKIPPED}
    assert "search_with_attributes" not in skipped
