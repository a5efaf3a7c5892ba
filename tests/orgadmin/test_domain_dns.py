"""The DNS lookup behind "Check now", against a real responder on 127.0.0.1."""

import threading

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.utils import timezone

from orgadmin import actions
from orgadmin.checks import dns_nameservers_are_readable
from orgadmin.dns import make_resolver
from orgadmin.models import AuditEvent, CheckOutcome, ClaimedDomain
from tests.dns_server import serving
from tests.helpers import SYSTEM, make_organization


@pytest.fixture
def dns_responder(settings):
    with serving(settings) as responder:
        yield responder


@pytest.fixture
def claimed(organization):
    return actions.claim_domain(organization, domain="Widgets.Example", actor=SYSTEM)


def domain_events(claimed):
    return list(
        AuditEvent.objects.filter(target_type="claimeddomain", target_id=claimed.pk)
        .order_by("pk")
        .values_list("action", flat=True)
    )


def test_check_now_verifies_a_pending_claim_whose_record_is_published(
    claimed, dns_responder
):
    dns_responder.set_txt("widgets.example", claimed.record_value)
    now = timezone.now()

    actions.check_domain(claimed, actor=SYSTEM, now=now)

    assert claimed.status == ClaimedDomain.Status.VERIFIED
    assert claimed.last_check_outcome == CheckOutcome.VERIFIED
    assert claimed.verified_at == now and claimed.last_checked_at == now
    assert claimed.last_check_message == (
        "The verification record was found on widgets.example."
    )
    assert dns_responder.questions == [("widgets.example.", "TXT")]
    assert domain_events(claimed) == ["domain.claimed", "domain.verified"]
    claimed.refresh_from_db()
    assert claimed.status == ClaimedDomain.Status.VERIFIED


def test_other_txt_records_alone_are_record_not_found(claimed, dns_responder):
    dns_responder.set_txt(
        "widgets.example", "v=spf1 -all", "google-site-verification=abc"
    )

    actions.check_domain(claimed, actor=SYSTEM)

    assert claimed.status == ClaimedDomain.Status.PENDING
    assert claimed.last_check_outcome == CheckOutcome.NOT_FOUND
    assert claimed.last_check_detail == (
        "2 other TXT records, none starting with orgadmin-domain-verification="
    )
    assert claimed.last_check_message.startswith(
        "No TXT record with the verification value was found on widgets.example"
    )
    assert domain_events(claimed) == ["domain.claimed"]


def test_nxdomain_is_record_not_found(claimed, dns_responder):
    actions.check_domain(claimed, actor=SYSTEM)

    assert claimed.last_check_outcome == CheckOutcome.NOT_FOUND
    assert claimed.last_check_detail == "widgets.example does not exist in DNS"
    assert claimed.status == ClaimedDomain.Status.PENDING


def test_a_name_without_txt_records_is_record_not_found(claimed, dns_responder):
    dns_responder.set_txt("widgets.example")

    actions.check_domain(claimed, actor=SYSTEM)

    assert claimed.last_check_outcome == CheckOutcome.NOT_FOUND
    assert claimed.last_check_detail == "widgets.example has no TXT records"


def test_a_different_verification_value_is_shown(claimed, dns_responder):
    dns_responder.set_txt(
        "widgets.example", "v=spf1 -all", "orgadmin-domain-verification=old-token"
    )

    actions.check_domain(claimed, actor=SYSTEM)

    assert claimed.status == ClaimedDomain.Status.PENDING
    assert claimed.last_check_outcome == CheckOutcome.MISMATCH
    assert claimed.last_check_detail == "orgadmin-domain-verification=old-token"
    assert claimed.last_check_message == (
        "widgets.example has a different verification value: "
        "orgadmin-domain-verification=old-token. Replace it with the value shown here."
    )
    assert domain_events(claimed) == ["domain.claimed"]


def test_a_record_split_into_several_strings_is_joined(claimed, dns_responder):
    value = claimed.record_value
    dns_responder.set_txt("widgets.example", (value[:20], value[20:]))

    actions.check_domain(claimed, actor=SYSTEM)

    assert claimed.status == ClaimedDomain.Status.VERIFIED


def test_the_record_is_found_among_several_txt_records(claimed, dns_responder):
    dns_responder.set_txt(
        "widgets.example",
        "v=spf1 include:_spf.example -all",
        "x" * 300,  # over 255 bytes: sent as two character-strings
        "orgadmin-domain-verification=someone-elses-token",
        claimed.record_value,
    )

    actions.check_domain(claimed, actor=SYSTEM)

    assert claimed.status == ClaimedDomain.Status.VERIFIED


def test_quotes_pasted_into_the_value_are_tolerated(claimed, dns_responder):
    dns_responder.set_txt("widgets.example", f'"{claimed.record_value}"')

    actions.check_domain(claimed, actor=SYSTEM)

    assert claimed.status == ClaimedDomain.Status.VERIFIED


def test_an_international_domain_is_looked_up_in_punycode(organization, dns_responder):
    claimed = actions.claim_domain(organization, domain="Bücher.example", actor=SYSTEM)
    dns_responder.set_txt("xn--bcher-kva.example", claimed.record_value)

    actions.check_domain(claimed, actor=SYSTEM)

    assert claimed.status == ClaimedDomain.Status.VERIFIED
    assert dns_responder.questions == [("xn--bcher-kva.example.", "TXT")]


def test_servfail_is_try_later_and_changes_no_status(claimed, dns_responder):
    dns_responder.set_txt("widgets.example", claimed.record_value)
    actions.check_domain(claimed, actor=SYSTEM)
    dns_responder.servfail("widgets.example")

    actions.check_domain(claimed, actor=SYSTEM)

    assert claimed.status == ClaimedDomain.Status.VERIFIED
    assert claimed.last_check_outcome == CheckOutcome.TRY_LATER
    assert claimed.last_check_detail == "every nameserver failed (SERVFAIL)"
    assert claimed.last_check_message == (
        "DNS did not answer (every nameserver failed (SERVFAIL)); nothing changed, "
        "the check will be tried again."
    )
    assert domain_events(claimed) == ["domain.claimed", "domain.verified"]


def test_a_dropped_packet_is_try_later_within_the_timeout(claimed, dns_responder):
    dns_responder.set_txt("widgets.example", claimed.record_value)
    dns_responder.drop("widgets.example")

    actions.check_domain(claimed, actor=SYSTEM)

    assert claimed.status == ClaimedDomain.Status.PENDING
    assert claimed.last_check_outcome == CheckOutcome.TRY_LATER
    assert claimed.last_check_detail == "no answer within 0.4 seconds"
    # Half the timeout per try: the lost packet was asked again once.
    assert dns_responder.questions == [("widgets.example.", "TXT")] * 2


def test_only_the_configured_nameservers_are_asked(claimed, dns_responder, settings):
    other = serving(settings)
    with other as second:
        second.set_txt("widgets.example", claimed.record_value)
        settings.ORGADMIN_DNS_NAMESERVERS = f" {dns_responder.address} "

        actions.check_domain(claimed, actor=SYSTEM)

    assert claimed.last_check_outcome == CheckOutcome.NOT_FOUND
    assert dns_responder.questions == [("widgets.example.", "TXT")]
    assert second.questions == []


def test_nameservers_are_read_as_host_or_host_and_port(settings):
    settings.ORGADMIN_DNS_NAMESERVERS = [
        "192.0.2.1",
        "192.0.2.2:5353",
        "2001:db8::1",
        "[2001:db8::2]:5300",
    ]
    settings.ORGADMIN_DNS_TIMEOUT = 2

    resolver = make_resolver()

    assert [(ns.address, ns.port) for ns in resolver.nameservers] == [
        ("192.0.2.1", 53),
        ("192.0.2.2", 5353),
        ("2001:db8::1", 53),
        ("2001:db8::2", 5300),
    ]
    assert resolver.lifetime == 2 and resolver.timeout == 1
    assert resolver.cache is None


def test_a_nameserver_with_a_bad_port_is_a_configuration_error(settings):
    settings.ORGADMIN_DNS_NAMESERVERS = ["192.0.2.1:dns"]

    with pytest.raises(ImproperlyConfigured, match="192.0.2.1:dns"):
        make_resolver()


def run_at_once(calls):
    """Run each call in its own thread, released together; return what they raised."""
    start = threading.Barrier(len(calls))
    errors = []

    def run(call):
        try:
            start.wait(timeout=5)
            call()
        except Exception as error:  # reported by the caller's assert
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return errors


@pytest.mark.postgres
def test_two_organizations_verifying_at_once_leave_one_winner(
    transactional_db, dns_responder
):
    for round_ in range(4):
        domain = f"contested{round_}.example"
        first = make_organization(f"first{round_}", domain=None)
        second = make_organization(f"second{round_}", domain=None)
        claims = [
            actions.claim_domain(org, domain=domain, actor=SYSTEM)
            for org in (first, second)
        ]
        # Both organizations published their record: each check finds its own.
        dns_responder.set_txt(domain, *(c.record_value for c in claims))
        errors = run_at_once(
            [lambda c=c: actions.check_domain(c, actor=SYSTEM) for c in claims]
        )

        assert errors == []
        statuses = sorted(
            ClaimedDomain.objects.filter(domain=domain).values_list("status", flat=True)
        )
        assert statuses == ["taken", "verified"]
        actions_recorded = sorted(
            AuditEvent.objects.filter(changes__domain=domain)
            .exclude(action="domain.claimed")
            .values_list("action", flat=True)
        )
        assert actions_recorded == ["domain.taken", "domain.verified"]


def test_an_unreadable_nameserver_setting_fails_the_system_check(settings):
    settings.ORGADMIN_DNS_NAMESERVERS = ["127.0.0.1:53", "10.0.0.2:port"]
    (error,) = dns_nameservers_are_readable(None)
    assert error.id == "orgadmin.E002"
    assert "'10.0.0.2:port' is not host or host:port" in error.msg
    settings.ORGADMIN_DNS_NAMESERVERS = ["127.0.0.1:5353", "[::1]:53", "ns.example"]
    assert dns_nameservers_are_readable(None) == []


def test_a_record_reached_through_a_cname_does_not_verify(organization, dns_responder):
    claimed = actions.claim_domain(
        organization, domain="shop.acme.example", actor=SYSTEM
    )
    # The vendor the alias points at controls vendor.example and could publish any
    # value there: it proves nothing about who owns shop.acme.example.
    dns_responder.set_cname("shop.acme.example", "shops.vendor.example")
    dns_responder.set_txt("shops.vendor.example", claimed.record_value)

    actions.check_domain(claimed, actor=SYSTEM)

    assert claimed.status == ClaimedDomain.Status.PENDING
    assert claimed.last_check_outcome == CheckOutcome.NOT_FOUND
    assert claimed.last_check_message == (
        "No TXT record with the verification value was found on shop.acme.example "
        "(it is a CNAME to shops.vendor.example: records reached through a CNAME do "
        "not count)."
    )
    assert dns_responder.questions == [("shop.acme.example.", "TXT")]
    assert domain_events(claimed) == ["domain.claimed"]


def test_a_verified_domain_that_becomes_a_cname_starts_failing(
    organization, dns_responder
):
    claimed = actions.claim_domain(
        organization, domain="shop.acme.example", actor=SYSTEM
    )
    dns_responder.set_txt("shop.acme.example", claimed.record_value)
    actions.check_domain(claimed, actor=SYSTEM)
    assert claimed.status == ClaimedDomain.Status.VERIFIED

    dns_responder.set_cname("shop.acme.example", "edge.vendor.example")
    dns_responder.set_cname("edge.vendor.example", "shops.vendor.example")
    dns_responder.set_txt("shops.vendor.example", claimed.record_value)
    actions.check_domain(claimed, actor=SYSTEM)

    assert claimed.status == ClaimedDomain.Status.FAILING
    assert claimed.last_check_detail == (
        "it is a CNAME to shops.vendor.example: records reached through a CNAME do "
        "not count"
    )
