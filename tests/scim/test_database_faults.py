"""PostgreSQL going away in the middle of a sync, and requests failing half-way.

Every fault comes from the outside world, never from patching orgadmin: the app's
connection runs through a TCP proxy on 127.0.0.1 (tests/tcp_proxy.py) that is cut and
then refuses connections, as a crashed or unreachable database host does; PostgreSQL
itself ends the session in the middle of a write (pg_terminate_backend from a
trigger); or a trigger raises on the last of several writes of one PATCH. The cluster
is never stopped, so the run is the same in CI as on a laptop.
"""

import contextlib

import pytest
from django.db import connection

from orgadmin.models import (
    AuditEvent,
    Member,
    MemberEmail,
    ScimRequestLog,
    Team,
    TeamMembership,
)
from tests import helpers
from tests.helpers import (
    GROUP,
    assert_error,
    create,
    patch,
    patch_group,
    user_body,
)
from tests.tcp_proxy import database_behind_proxy
from tests.wsgi_client import WsgiScimClient

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def scim():
    """Requests as a gunicorn worker runs them, keeping its connection between them
    (CONN_MAX_AGE) and checking it at each request, as production does."""
    organization = helpers.make_organization()
    return WsgiScimClient(helpers.issue_token(organization))


@pytest.fixture
def database():
    with database_behind_proxy(connection) as proxy:
        yield proxy


def snapshot():
    """Every row a SCIM write can touch (the request log and the token aside)."""
    return [
        list(model.objects.order_by("pk").values())
        for model in (Member, MemberEmail, Team, TeamMembership, AuditEvent)
    ]


def assert_unavailable(response):
    body = assert_error(response, 503)
    assert response["Retry-After"] == "60"
    assert body["detail"] == "The service is temporarily unavailable; retry later."
    assert b"Traceback" not in response.content and b"psycopg" not in response.content


@contextlib.contextmanager
def trigger(model, *, timing, when, statement):
    """A PostgreSQL row trigger on `model`'s table running `statement` when `when`."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION test_fault() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {statement}; RETURN NEW; END $$"
        )
        cursor.execute(
            f"CREATE TRIGGER test_fault {timing} ON {table} FOR EACH ROW "
            f"WHEN ({when}) EXECUTE FUNCTION test_fault()"
        )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER test_fault ON {table}")
            cursor.execute("DROP FUNCTION test_fault()")


def test_while_the_database_is_away_scim_answers_503_and_then_works_without_a_restart(
    database, scim
):
    # A sync is under way: the first users arrive.
    ann = create(scim, "ann@acme.example")
    create(scim, "bob@acme.example")
    connections_before = database.connections_made

    database.go_down()
    # The rest of the cycle: the token lookup (authentication) is the first query of
    # each, so this is the authentication step failing as much as the writes.
    assert_unavailable(scim.post("Users", user_body("cat@acme.example")))
    assert_unavailable(scim.get("Users"))
    assert_unavailable(
        patch(scim, ann["id"], {"op": "replace", "path": "title", "value": "CTO"})
    )
    assert_unavailable(scim.post("Groups", {"schemas": [GROUP], "displayName": "Ops"}))
    assert_unavailable(scim.get("Users", headers={"Authorization": "Bearer wrong"}))

    database.come_back()
    # Entra ID retries the failed requests on its next cycle; the same process answers.
    create(scim, "cat@acme.example")
    response = patch(
        scim, ann["id"], {"op": "replace", "path": "title", "value": "CTO"}
    )
    assert response.status_code == 200, response.content
    assert (
        scim.post("Groups", {"schemas": [GROUP], "displayName": "Ops"}).status_code
        == 201
    )
    assert (
        database.connections_made > connections_before
    )  # a new connection, no restart

    assert sorted(Member.objects.values_list("user_name", flat=True)) == [
        "ann@acme.example",
        "bob@acme.example",
        "cat@acme.example",
        "owner@acme.example",
    ]
    assert Member.objects.get(scim_id=ann["id"]).title == "CTO"
    assert list(Team.objects.values_list("display_name", flat=True)) == ["Ops"]
    assert (
        AuditEvent.objects.filter(
            action="member.provisioned", target_label__contains="cat"
        ).count()
        == 1
    )
    # Requests answered while the database was away could not be logged; the others were.
    assert list(
        ScimRequestLog.objects.order_by("pk").values_list("status", flat=True)
    ) == [
        201,
        201,
        201,
        200,
        201,
    ]


def test_a_connection_the_database_dropped_between_requests_is_replaced_unnoticed(
    database, scim
):
    # A database restart or failover while the worker is idle: the health check
    # (CONN_HEALTH_CHECKS) replaces the dead connection before the next request uses it.
    create(scim, "ann@acme.example")
    connections_before = database.connections_made
    database.go_down()
    database.come_back()
    response = scim.get("Users")
    assert response.status_code == 200, response.content
    assert response.json()["totalResults"] == 2
    assert database.connections_made == connections_before + 1


def test_postgresql_ending_the_session_in_the_middle_of_a_create_leaves_nothing_of_it(
    scim,
):
    # The member row and its email are written, then the server ends the session
    # before the audit event: the open transaction dies with it.
    before = snapshot()
    with trigger(
        AuditEvent,
        timing="AFTER INSERT",
        when="NEW.action = 'member.provisioned'",
        statement="PERFORM pg_terminate_backend(pg_backend_pid())",
    ):
        response = scim.post(
            "Users",
            user_body("dee@acme.example", emails=[{"value": "dee@acme.example"}]),
        )
        assert_unavailable(response)
        assert snapshot() == before
        # The next request opens a new connection and is logged as usual; the failed
        # one was logged too, once its own connection was gone.
        assert scim.get("Users").status_code == 200
    log = list(ScimRequestLog.objects.order_by("pk").values_list("method", "status"))
    assert log == [("POST", 503), ("GET", 200)]
    assert create(scim, "dee@acme.example")["userName"] == "dee@acme.example"
    assert Member.objects.filter(user_name="dee@acme.example").count() == 1


def test_a_group_patch_failing_half_way_leaves_only_the_error_and_the_request_log(scim):
    ids = [create(scim, f"user{n}@acme.example")["id"] for n in range(3)]
    group = scim.post(
        "Groups",
        {"schemas": [GROUP], "displayName": "Eng", "members": [{"value": ids[0]}]},
    ).json()
    before = snapshot()
    operations = [
        {"op": "Remove", "path": f'members[value eq "{ids[0]}"]'},
        {
            "op": "Add",
            "path": "members",
            "value": [{"value": ids[1]}, {"value": ids[2]}],
        },
        {"op": "Replace", "path": "displayName", "value": "Renamed"},
    ]
    # The memberships are deleted and inserted and the members' versions moved before
    # the team row is renamed; the rename is refused by the database.
    with trigger(
        Team,
        timing="BEFORE UPDATE",
        when="NEW.display_name = 'Renamed'",
        statement="RAISE EXCEPTION 'injected failure on the team row'",
    ):
        response = patch_group(scim, group["id"], *operations)
    body = assert_error(response, 500)
    assert "injected" not in body["detail"]
    assert snapshot() == before
    log = ScimRequestLog.objects.latest("pk")
    assert (log.method, log.status) == ("PATCH", 500)
    assert log.error_detail == body["detail"]

    # The same PATCH, sent again, applies whole.
    assert patch_group(scim, group["id"], *operations).status_code == 204
    team = Team.objects.get(scim_id=group["id"])
    assert team.display_name == "Renamed"
    assert set(team.members.values_list("user_name", flat=True)) == {
        "user1@acme.example",
        "user2@acme.example",
    }


def test_a_user_patch_failing_half_way_leaves_only_the_error_and_the_request_log(scim):
    user = create(scim, "kim@acme.example", emails=[{"value": "kim@acme.example"}])
    before = snapshot()
    operations = [
        {"op": "replace", "path": "displayName", "value": "Kim"},
        {"op": "add", "path": "emails", "value": [{"value": "kim2@acme.example"}]},
        {"op": "add", "path": "title", "value": "CTO"},
    ]
    # The emails and the member row are written, then the audit event is refused.
    with trigger(
        AuditEvent,
        timing="BEFORE INSERT",
        when="NEW.action = 'member.updated'",
        statement="RAISE EXCEPTION 'injected failure on the audit row'",
    ):
        response = patch(scim, user["id"], *operations)
    assert_error(response, 500)
    assert snapshot() == before
    assert ScimRequestLog.objects.latest("pk").status == 500
    assert patch(scim, user["id"], *operations).status_code == 200
    member = Member.objects.get(scim_id=user["id"])
    assert (member.display_name, member.title) == ("Kim", "CTO")
    assert member.email_addresses.count() == 2


def test_scim_answers_503_when_a_row_lock_is_not_granted_in_time(scim):
    # Another session holds the member's row lock past the database's lock_timeout:
    # psycopg's LockNotAvailable is an OperationalError, and the IdP is asked to retry.
    user = create(scim, "kim@acme.example")
    settings_dict = connection.settings_dict
    options = settings_dict["OPTIONS"]
    options["options"] = "-c lock_timeout=100"
    connection.close()
    other = connection.copy()
    try:
        with other.cursor() as cursor:
            other.set_autocommit(False)
            cursor.execute(
                f"SELECT 1 FROM {Member._meta.db_table} WHERE scim_id = %s FOR UPDATE",
                [user["id"]],
            )
            response = patch(
                scim, user["id"], {"op": "replace", "path": "title", "value": "CTO"}
            )
            other.rollback()
    finally:
        other.close()
        del options["options"]
        connection.close()
    assert_unavailable(response)
    assert Member.objects.get(scim_id=user["id"]).title == ""
