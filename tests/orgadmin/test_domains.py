"""Claiming a domain, and keeping it verified over time (the clock is passed as `now`)."""

import socket
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from orgadmin import actions
from orgadmin.domains import PUBLIC_EMAIL_DOMAINS, normalize_domain
from orgadmin.errors import AlreadyExists, DomainAlreadyClaimed, DomainNotAllowed
from orgadmin.models import AuditEvent, CheckOutcome, ClaimedDomain, Member
from tests.dns_server import serving
from tests.helpers import SYSTEM, make_member, make_organization

DAY = timedelta(days=1)


@pytest.fixture
def dns_responder(settings):
    with serving(settings) as responder:
        yield responder


def status_events(claimed):
    return list(
        AuditEvent.objects.filter(target_type="claimeddomain", target_id=claimed.pk)
        .exclude(action="domain.claimed")
        .order_by("pk")
        .values_list("action", flat=True)
    )


def verify_by_dns(organization, domain, dns_responder, *, now):
    claimed = actions.claim_domain(organization, domain=domain, actor=SYSTEM)
    dns_responder.set_txt(domain, claimed.record_value)
    return actions.check_domain(claimed, actor=SYSTEM, now=now)


# ------------------------------------------------------------------------ what is claimable


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Sub.Acme.Example.", "sub.acme.example"),
        ("  ACME.co.uk ", "acme.co.uk"),
        ("Bücher.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("faß.example", "xn--fa-hia.example"),  # IDNA 2008, as registries use
        ("acme.github.io", "acme.github.io"),
    ],
)
def test_a_domain_is_stored_lowercase_in_punycode_without_trailing_dot(typed, stored):
    assert normalize_domain(typed) == stored


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Enter a domain, such as example.com."),
        ("https://acme.example/login", "without http:// or a path"),
        ("acme.example/login", "without http:// or a path"),
        ("pat@acme.example", "not the whole address"),
        ("192.0.2.10", "An IP address cannot be claimed"),
        ("192.0.2.10:8080", "An IP address cannot be claimed"),
        ("2001:db8::1", "An IP address cannot be claimed"),
        ("[2001:db8::1]", "An IP address cannot be claimed"),
        ("*.acme.example", "without a wildcard"),
        ("acme.example:443", "without a port"),
        ("intranet", "intranet is a single label, not a full domain"),
        ("COM.", "com is a single label, not a full domain"),
        ("co.uk", "co.uk is a public suffix"),
        ("github.io", "github.io is a public suffix"),
        ("gmail.com", "gmail.com is a public email provider"),
        ("GMail.com.", "gmail.com is a public email provider"),
        ("uk.yahoo.co.uk", "yahoo.co.uk is a public email provider"),
        ("acme..example", "acme..example is not a valid domain name."),
        ("-acme.example", "-acme.example is not a valid domain name."),
        ("acme_corp.example", "acme_corp.example is not a valid domain name."),
        ("10.0.0.300", "10.0.0.300 is not a valid domain name."),
    ],
)
def test_claiming_refuses_what_is_not_a_company_domain(organization, typed, message):
    with pytest.raises(DomainNotAllowed) as refused:
        actions.claim_domain(organization, domain=typed, actor=SYSTEM)

    assert message in refused.value.message
    assert refused.value.field == "domain"
    assert not organization.claimed_domains.exclude(domain="acme.example").exists()


def test_the_public_email_providers_are_one_list_of_refused_domains():
    for provider in PUBLIC_EMAIL_DOMAINS:
        with pytest.raises(DomainNotAllowed, match="public email provider"):
            normalize_domain(provider)


def test_a_domain_verified_by_another_organization_cannot_be_claimed(organization):
    other = make_organization("globex", domain=None)

    with pytest.raises(DomainAlreadyClaimed) as refused:
        actions.claim_domain(other, domain="Acme.Example", actor=SYSTEM)

    assert refused.value.message == "acme.example is verified by another organization."
    assert refused.value.field == "domain"


def test_a_claim_shows_the_record_to_create_and_how_long_checks_go_on(organization):
    claimed = actions.claim_domain(organization, domain="widgets.example", actor=SYSTEM)

    assert claimed.record_host == "widgets.example"
    assert claimed.record_value == (
        f"orgadmin-domain-verification={claimed.verification_token}"
    )
    assert len(claimed.verification_token) >= 32
    assert claimed.pending_until == claimed.created_at + timedelta(days=14)
    assert claimed.unverify_after is None
    assert claimed.last_check_message == "Not checked yet."


# ---------------------------------------------------------------------- over time (cron)


def test_a_pending_claim_is_checked_for_14_days_then_expires(
    organization, dns_responder
):
    claimed = actions.claim_domain(organization, domain="widgets.example", actor=SYSTEM)
    created = claimed.created_at

    actions.recheck_domains(actor=SYSTEM, now=created + 14 * DAY - timedelta(seconds=1))
    claimed.refresh_from_db()
    assert claimed.status == ClaimedDomain.Status.PENDING
    assert claimed.last_check_outcome == CheckOutcome.NOT_FOUND

    actions.recheck_domains(actor=SYSTEM, now=created + 14 * DAY)
    claimed.refresh_from_db()
    assert claimed.status == ClaimedDomain.Status.EXPIRED
    assert claimed.pending_until is None
    assert status_events(claimed) == ["domain.expired"]
    event = AuditEvent.objects.get(action="domain.expired")
    assert event.changes["status"] == {"from": "pending", "to": "expired"}


def test_a_record_published_on_day_13_verifies_the_claim(organization, dns_responder):
    claimed = actions.claim_domain(organization, domain="widgets.example", actor=SYSTEM)
    dns_responder.set_txt("widgets.example", claimed.record_value)

    actions.recheck_domains(actor=SYSTEM, now=claimed.created_at + 13 * DAY)

    claimed.refresh_from_db()
    assert claimed.status == ClaimedDomain.Status.VERIFIED
    assert "widgets.example" in organization.verified_domain_names()


def test_a_verified_domain_whose_record_goes_fails_for_7_days_then_is_unverified(
    organization, dns_responder, mailoutbox
):
    admin = make_member(organization, "admin@acme.example", role=Member.Role.ADMIN)
    make_member(organization, "pat@acme.example")  # a plain member: not warned
    gone = make_member(organization, "gone@acme.example", role=Member.Role.ADMIN)
    actions.update_member(gone, is_active=False, actor=SYSTEM)
    acme = organization.claimed_domains.get(domain="acme.example")
    dns_responder.set_txt("acme.example", acme.record_value)
    start = timezone.now()
    claimed = verify_by_dns(organization, "widgets.example", dns_responder, now=start)
    dns_responder.remove("widgets.example")

    gone_at = start + DAY
    actions.recheck_domains(actor=SYSTEM, now=gone_at)
    claimed.refresh_from_db()
    assert claimed.status == ClaimedDomain.Status.FAILING
    assert claimed.failing_since == gone_at
    assert claimed.unverify_after == gone_at + 7 * DAY
    assert list(ClaimedDomain.objects.failing()) == [claimed]
    # Still verified while failing: SSO and SCIM keep accepting its people.
    assert "widgets.example" in organization.verified_domain_names()
    assert len(mailoutbox) == 1
    warning = mailoutbox[0]
    assert sorted(warning.to) == ["admin@acme.example", "owner@acme.example"]
    assert admin.user.email in warning.to
    assert warning.subject == (
        "widgets.example: its domain verification record is missing"
    )
    assert claimed.record_value in warning.body
    assert "Host:  widgets.example" in warning.body
    assert "widgets.example does not exist in DNS" in warning.body
    assert not warning.alternatives  # plain text only

    for days in (2, 5, 7):
        actions.recheck_domains(
            actor=SYSTEM, now=gone_at + days * DAY - timedelta(seconds=1)
        )
    claimed.refresh_from_db()
    assert claimed.status == ClaimedDomain.Status.FAILING
    assert len(mailoutbox) == 1  # once per failing period, not on every run

    actions.recheck_domains(actor=SYSTEM, now=gone_at + 7 * DAY)
    claimed.refresh_from_db()
    assert claimed.status == ClaimedDomain.Status.EXPIRED
    assert "widgets.example" not in organization.verified_domain_names()
    assert not ClaimedDomain.objects.failing().exists()
    assert len(mailoutbox) == 2
    assert mailoutbox[1].subject == "widgets.example is no longer verified"
    assert sorted(mailoutbox[1].to) == ["admin@acme.example", "owner@acme.example"]
    assert claimed.record_value in mailoutbox[1].body
    assert status_events(claimed) == [
        "domain.verified",
        "domain.failing",
        "domain.unverified",
    ]


def test_a_record_back_within_the_window_ends_the_failing_period(
    organization, dns_responder, mailoutbox
):
    start = timezone.now()
    claimed = verify_by_dns(organization, "widgets.example", dns_responder, now=start)
    record = claimed.record_value
    dns_responder.set_txt("widgets.example", "orgadmin-domain-verification=typo")
    actions.check_domain(claimed, actor=SYSTEM, now=start + DAY)
    assert claimed.status == ClaimedDomain.Status.FAILING
    assert claimed.last_check_outcome == CheckOutcome.MISMATCH

    dns_responder.set_txt("widgets.example", record)
    actions.check_domain(claimed, actor=SYSTEM, now=start + 6 * DAY)
    assert claimed.status == ClaimedDomain.Status.VERIFIED
    assert claimed.failing_since is None and claimed.unverify_after is None

    # A new failing period starts from scratch: its own 7 days and its own warning.
    dns_responder.remove("widgets.example")
    actions.check_domain(claimed, actor=SYSTEM, now=start + 7 * DAY)
    actions.check_domain(claimed, actor=SYSTEM, now=start + 13 * DAY)
    claimed.refresh_from_db()
    assert claimed.status == ClaimedDomain.Status.FAILING
    assert claimed.failing_since == start + 7 * DAY
    assert [mail.subject for mail in mailoutbox] == [
        "widgets.example: its domain verification record is missing",
        "widgets.example is verified again",
        "widgets.example: its domain verification record is missing",
    ]
    assert status_events(claimed) == [
        "domain.verified",
        "domain.failing",
        "domain.verified",
        "domain.failing",
    ]


def test_try_later_never_changes_a_status(organization, dns_responder, mailoutbox):
    start = timezone.now()
    claimed = verify_by_dns(organization, "widgets.example", dns_responder, now=start)
    dns_responder.servfail("widgets.example")
    actions.check_domain(claimed, actor=SYSTEM, now=start + DAY)
    assert claimed.status == ClaimedDomain.Status.VERIFIED
    assert mailoutbox == []

    dns_responder.servfail("widgets.example", enabled=False)
    dns_responder.remove("widgets.example")
    actions.check_domain(claimed, actor=SYSTEM, now=start + 2 * DAY)
    assert claimed.status == ClaimedDomain.Status.FAILING

    dns_responder.servfail("widgets.example")
    actions.check_domain(claimed, actor=SYSTEM, now=start + 20 * DAY)
    assert claimed.status == ClaimedDomain.Status.FAILING
    assert claimed.last_check_outcome == CheckOutcome.TRY_LATER

    dns_responder.servfail("widgets.example", enabled=False)
    actions.check_domain(claimed, actor=SYSTEM, now=start + 21 * DAY)
    assert claimed.status == ClaimedDomain.Status.EXPIRED


def test_the_first_organization_to_verify_wins_and_the_other_claim_is_taken(
    db, dns_responder
):
    first = make_organization("first", domain=None)
    second = make_organization("second", domain=None)
    winner = actions.claim_domain(first, domain="contested.example", actor=SYSTEM)
    loser = actions.claim_domain(second, domain="contested.example", actor=SYSTEM)
    dns_responder.set_txt("contested.example", winner.record_value, loser.record_value)

    actions.check_domain(winner, actor=SYSTEM)

    loser.refresh_from_db()
    assert winner.status == ClaimedDomain.Status.VERIFIED
    assert loser.status == ClaimedDomain.Status.TAKEN
    taken = AuditEvent.objects.get(action="domain.taken")
    assert taken.organization == second  # in the loser's own log

    actions.check_domain(loser, actor=SYSTEM)
    assert loser.status == ClaimedDomain.Status.TAKEN
    assert status_events(loser) == ["domain.taken"]

    # Once the winner releases the domain, the other organization can verify it.
    actions.release_domain(winner, actor=SYSTEM)
    actions.check_domain(loser, actor=SYSTEM)
    assert loser.status == ClaimedDomain.Status.VERIFIED


def test_check_now_revives_an_expired_claim_whose_record_is_back(
    organization, dns_responder
):
    claimed = actions.claim_domain(organization, domain="widgets.example", actor=SYSTEM)
    actions.expire_domain(claimed, actor=SYSTEM, now=claimed.created_at + 15 * DAY)
    dns_responder.set_txt("widgets.example", claimed.record_value)

    actions.check_domain(claimed, actor=SYSTEM)

    assert claimed.status == ClaimedDomain.Status.VERIFIED
    assert status_events(claimed) == ["domain.expired", "domain.verified"]


def test_verify_domains_command_reports_what_changed(organization, dns_responder):
    # acme.example verified by its record (not the operator override of
    # make_organization, which a missing record leaves verified), then the record goes.
    acme = organization.claimed_domains.get(domain="acme.example")
    dns_responder.set_txt("acme.example", acme.record_value)
    actions.check_domain(acme, actor=SYSTEM, now=timezone.now() - DAY)
    claimed = actions.claim_domain(organization, domain="widgets.example", actor=SYSTEM)
    dns_responder.set_txt("widgets.example", claimed.record_value)
    dns_responder.set_txt("acme.example", "v=spf1 -all")
    out = StringIO()

    call_command("verify_domains", stdout=out)

    # Least recently checked first: widgets.example never was.
    assert out.getvalue().splitlines() == [
        "widgets.example (acme): pending -> verified. The verification record was "
        "found on widgets.example.",
        "acme.example (acme): verified -> failing. No TXT record with the "
        "verification value was found on acme.example (1 other TXT record, none "
        "starting with orgadmin-domain-verification=).",
        "Checked 2 domains; 1 verified, 1 failing.",
    ]
    event = AuditEvent.objects.get(action="domain.failing")
    assert event.actor_label == "Scheduled check (manage.py verify_domains)"


def test_a_warning_that_could_not_be_sent_is_sent_on_the_next_check(
    organization, dns_responder, mailoutbox, settings
):
    start = timezone.now()
    claimed = verify_by_dns(organization, "widgets.example", dns_responder, now=start)
    dns_responder.remove("widgets.example")
    locmem = settings.EMAIL_BACKEND
    # A real SMTP client against a bound port that does not listen: the mail server
    # refuses the connection.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    with socket.socket() as closed_port:
        closed_port.bind(("127.0.0.1", 0))
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = closed_port.getsockname()[1]

        actions.check_domain(claimed, actor=SYSTEM, now=start + DAY)

    assert claimed.status == ClaimedDomain.Status.FAILING
    assert claimed.owners_warned_at is None

    settings.EMAIL_BACKEND = locmem
    actions.check_domain(claimed, actor=SYSTEM, now=start + 2 * DAY)
    actions.check_domain(claimed, actor=SYSTEM, now=start + 3 * DAY)
    claimed.refresh_from_db()
    assert claimed.owners_warned_at == start + 2 * DAY
    assert [mail.to for mail in mailoutbox] == [["owner@acme.example"]]
    assert status_events(claimed) == ["domain.verified", "domain.failing"]


def test_claiming_a_domain_twice_says_where_the_first_claim_stands(organization):
    actions.claim_domain(organization, domain="widgets.example", actor=SYSTEM)

    with pytest.raises(AlreadyExists) as refused:
        actions.claim_domain(organization, domain="WIDGETS.example.", actor=SYSTEM)

    assert refused.value.message == (
        "widgets.example is already claimed by this organization "
        "(pending verification)."
    )
