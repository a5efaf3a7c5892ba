"""Periodic commands that cron starts on several hosts at once: one run works, the
others exit saying so; each run does a bounded batch."""

from io import StringIO

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from orgadmin import actions
from orgadmin.locks import lock_key
from orgadmin.models import ClaimedDomain
from tests.dns_server import serving
from tests.helpers import SYSTEM, make_organization


@pytest.fixture
def dns_responder(settings):
    with serving(settings) as responder:
        yield responder


@pytest.fixture
def another_host():
    """A second session on the same database, as another host's cron run has."""
    parameters = connection.get_connection_params()
    parameters.pop("cursor_factory", None)
    parameters.pop("context", None)
    with psycopg.connect(**parameters, autocommit=True) as session:
        yield session


def claim_pending(organization, *domains):
    return [
        actions.claim_domain(organization, domain=domain, actor=SYSTEM)
        for domain in domains
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_second_verify_domains_run_exits_cleanly_while_another_holds_the_lock(
    another_host, dns_responder
):
    organization = make_organization("acme", domain=None)
    (claimed,) = claim_pending(organization, "acme.example")
    dns_responder.set_txt("acme.example", claimed.record_value)
    key = lock_key("command:verify_domains")
    another_host.execute("SELECT pg_advisory_lock(%s)", [key])
    out = StringIO()

    call_command("verify_domains", stdout=out)

    assert out.getvalue() == (
        "Another run of verify_domains holds its lock (on another host, or still "
        "running here); nothing to do.\n"
    )
    claimed.refresh_from_db()
    assert claimed.status == ClaimedDomain.Status.PENDING
    assert claimed.last_checked_at is None

    another_host.execute("SELECT pg_advisory_unlock(%s)", [key])
    out = StringIO()
    call_command("verify_domains", stdout=out)
    assert out.getvalue().splitlines()[-1] == "Checked 1 domain; 1 verified."
    # The run let its lock go: another session may take it now.
    (taken,) = another_host.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone()
    assert taken is True


@pytest.mark.django_db
def test_verify_domains_checks_a_bounded_batch_least_recently_checked_first(
    dns_responder,
):
    organization = make_organization("acme", domain=None)
    first, second, third = claim_pending(
        organization, "a.example", "b.example", "c.example"
    )
    out = StringIO()

    call_command("verify_domains", "--limit", "2", stdout=out)

    assert out.getvalue().splitlines()[-1] == "Checked 2 domains; no status changed."
    checked = set(
        ClaimedDomain.objects.filter(last_checked_at__isnull=False).values_list(
            "domain", flat=True
        )
    )
    assert checked == {"a.example", "b.example"}
    call_command("verify_domains", "--limit", "2", stdout=StringIO())
    # The next run starts with the one never checked.
    third.refresh_from_db()
    assert third.last_checked_at is not None


@pytest.mark.django_db
def test_verify_domains_refuses_a_limit_below_one():
    with pytest.raises(CommandError, match="--limit must be at least 1"):
        call_command("verify_domains", "--limit", "0", stdout=StringIO())
