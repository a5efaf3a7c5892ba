"""The buffered SCIM request log (ORGADMIN_SCIM_REQUEST_LOG_FLUSH_MS above 0, the
production default): rows wait in the process, then go in one INSERT."""

import pytest

from orgadmin import actions
from orgadmin.models import ScimRequestLog, ScimToken
from scim import request_log
from tests import helpers

# Long enough that the background thread never writes during a test that flushes
# itself (the thread sleeps one interval between writes).
AN_HOUR_MS = 3_600_000


@pytest.fixture
def buffered(settings):
    settings.ORGADMIN_SCIM_REQUEST_LOG_FLUSH_MS = AN_HOUR_MS
    request_log.flush_request_log()  # nothing of another test's
    yield
    request_log.flush_request_log()


def test_rows_wait_in_the_buffer_and_are_written_whole_by_a_flush(
    buffered, organization, scim
):
    scim.get("Users?filter=userName+eq+%22a%40acme.example%22")
    created = scim.post(
        "Users",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "kim@acme.example",
        },
    )
    assert created.status_code == 201
    assert not ScimRequestLog.objects.exists()

    assert request_log.flush_request_log() == 2

    rows = list(ScimRequestLog.objects.for_organization(organization).order_by("pk"))
    assert [(r.method, r.status, r.outcome) for r in rows] == [
        ("GET", 200, ""),
        ("POST", 201, "created"),
    ]
    assert rows[0].path.startswith("/scim/v2/Users?filter=")
    # The time is the request's, not the flush's: the health view orders by it.
    assert rows[0].created_at <= rows[1].created_at
    assert all(r.token_id is not None and r.duration_ms >= 0 for r in rows)


def test_a_full_buffer_is_written_by_the_request_that_fills_it(
    buffered, organization, scim, monkeypatch
):
    monkeypatch.setattr(request_log._Buffer, "MAX_ROWS", 3)
    scim.get("Users")
    scim.get("Users")
    assert not ScimRequestLog.objects.exists()
    scim.get("Users")
    assert ScimRequestLog.objects.count() == 3


def test_a_batch_that_passes_a_multiple_of_trim_every_trims_the_log_once(
    organization, other_organization, monkeypatch
):
    monkeypatch.setattr(ScimRequestLog, "KEEP_PER_ORGANIZATION", 5)
    monkeypatch.setattr(request_log, "TRIM_EVERY", 4)
    token, other = token_of(organization), token_of(other_organization)
    rows = [log_row(token) for _ in range(3)]
    request_log.write_request_log(rows)
    assert ScimRequestLog.objects.for_organization(organization).count() == 3

    request_log.write_request_log([log_row(token) for _ in range(9)] + [log_row(other)])

    assert ScimRequestLog.objects.for_organization(organization).count() == 5
    assert ScimRequestLog.objects.for_organization(other_organization).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_thread_writes_what_is_held_within_its_interval():
    # The thread writes in its own connection, so the rows' organization and token
    # must be committed first (transaction=True), and the buffer is one of this
    # test's, so that no other test's rows or interval get in the way.
    organization = helpers.make_organization()
    token = token_of(organization)
    buffer = request_log._Buffer()

    buffer.add(log_row(token), interval=0.01)
    buffer.add(log_row(token), interval=0.01)
    try:
        with buffer.written:
            written = buffer.written.wait_for(
                lambda: ScimRequestLog.objects.count() == 2, timeout=30
            )
    finally:
        buffer.stop()
        buffer.thread.join(timeout=30)
    assert written
    assert buffer.thread.daemon and not buffer.thread.is_alive()


def token_of(organization) -> ScimToken:
    token, _ = actions.issue_scim_token(
        organization, name="Entra", actor=helpers.SYSTEM
    )
    return token


def log_row(token: ScimToken) -> ScimRequestLog:
    return ScimRequestLog(
        organization_id=token.organization_id,
        token_id=token.pk,
        method="GET",
        path="/scim/v2/Users",
        status=200,
        duration_ms=3,
    )
