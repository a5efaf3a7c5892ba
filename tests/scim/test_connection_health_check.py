"""The per-request connection health check costs no round trip on a live connection
(orgadmin/postgresql/base.py); tests/scim/test_database_faults.py shows a dead one is
still replaced before the request uses it."""

import pytest
from django.db import connection

from tests import helpers
from tests.wsgi_client import WsgiScimClient

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def statements_sent(trace_file) -> list[str]:
    """The Query and Parse messages of a libpq trace (what went to PostgreSQL)."""
    sent = []
    for line in trace_file.read_text().splitlines():
        fields = line.split("\t")
        if len(fields) > 3 and fields[1] == "F" and fields[3] in ("Query", "Parse"):
            sent.append(line)
    return sent


def test_a_live_kept_connection_is_not_sent_select_1_before_a_request(tmp_path):
    scim = WsgiScimClient(helpers.issue_token(helpers.make_organization()))
    assert scim.get("Users").status_code == 200  # the connection is made and kept
    trace_file = tmp_path / "libpq.trace"
    with trace_file.open("w") as trace:
        connection.connection.pgconn.trace(trace.fileno())
        try:
            assert scim.get("Users").status_code == 200
        finally:
            connection.connection.pgconn.untrace()
    sent = statements_sent(trace_file)
    assert sent, "the trace shows the request's own queries"
    assert not any('"SELECT 1"' in line for line in sent)
    assert any("orgadmin_scimrequestlog" in line for line in sent)
