"""The nesting rule applied again when a claim would become verified: a domain another
organization verified after the claim was made, above or under it, keeps it unverified
unless the operator allowed the nesting."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from orgadmin import actions
from orgadmin.errors import DomainAlreadyClaimed
from orgadmin.models import AuditEvent, CheckOutcome, ClaimedDomain
from tests.dns_server import serving
from tests.helpers import PASSWORD, SYSTEM, in_parallel, make_organization

GLOBEX_DOMAINS = "/organizations/globex/access-security/domains/"


@pytest.fixture
def dns_responder(settings):
    with serving(settings) as responder:
        yield responder


@pytest.fixture
def acme(db):
    """An organization with no verified domain yet."""
    return make_organization("acme", domain=None)


@pytest.fixture
def globex(db):
    return make_organization("globex", domain=None)


def verify_by_dns(organization, domain, dns_responder):
    """Claim `domain`, publish its record and let a check verify it."""
    claimed = actions.claim_domain(organization, domain=domain, actor=SYSTEM)
    dns_responder.set_txt(domain, claimed.record_value)
    actions.check_domain(claimed, actor=SYSTEM)
    assert claimed.status == ClaimedDomain.Status.VERIFIED
    return claimed


def events(claimed):
    return list(
        AuditEvent.objects.filter(target_type="claimeddomain", target_id=claimed.pk)
        .order_by("pk")
        .values_list("action", "changes")
    )


# ------------------------------------------------------------------- check_domain


def test_a_subdomain_claimed_first_is_taken_once_another_organization_verifies_its_parent(
    acme, globex, dns_responder
):
    claimed = actions.claim_domain(globex, domain="sub.acme.example", actor=SYSTEM)
    verify_by_dns(acme, "acme.example", dns_responder)
    dns_responder.set_txt("sub.acme.example", claimed.record_value)

    actions.check_domain(claimed, actor=SYSTEM)

    assert claimed.status == ClaimedDomain.Status.TAKEN
    assert claimed.last_check_outcome == CheckOutcome.VERIFIED
    assert claimed.last_check_detail == (
        "sub.acme.example is under acme.example, which another organization verified."
    )
    assert claimed.last_check_message == (
        "The verification record was found on sub.acme.example, but sub.acme.example "
        "is under acme.example, which another organization verified."
    )
    assert events(claimed) == [
        ("domain.claimed", {"domain": "sub.acme.example"}),
        (
            "domain.taken",
            {
                "domain": "sub.acme.example",
                "status": {"from": "pending", "to": "taken"},
                "reason": "another organization verified acme.example, which this "
                "domain is under",
                "check": "verified",
                "nested": {"under": "acme.example"},
            },
        ),
    ]
    claimed.refresh_from_db()
    assert claimed.status == ClaimedDomain.Status.TAKEN
    # Acme keeps its domain, and nothing in its log changed.
    assert acme.claimed_domains.get().status == ClaimedDomain.Status.VERIFIED
    assert not AuditEvent.objects.filter(
        organization=acme, action="domain.taken"
    ).exists()


def test_a_parent_claimed_first_is_taken_once_another_organization_verifies_a_subdomain(
    acme, globex, dns_responder
):
    claimed = actions.claim_domain(globex, domain="widgets.example", actor=SYSTEM)
    verify_by_dns(acme, "labs.widgets.example", dns_responder)
    dns_responder.set_txt("widgets.example", claimed.record_value)

    actions.check_domain(claimed, actor=SYSTEM)

    assert claimed.status == ClaimedDomain.Status.TAKEN
    assert claimed.last_check_message == (
        "The verification record was found on widgets.example, but "
        "labs.widgets.example, which another organization verified, is under "
        "widgets.example."
    )
    (taken,) = AuditEvent.objects.filter(action="domain.taken", organization=globex)
    assert taken.changes["nested"] == {"above": "labs.widgets.example"}
    assert taken.changes["reason"] == (
        "another organization verified labs.widgets.example, which is under this domain"
    )


def test_a_second_check_of_a_claim_taken_by_nesting_records_no_event(
    acme, globex, dns_responder
):
    claimed = actions.claim_domain(globex, domain="sub.acme.example", actor=SYSTEM)
    verify_by_dns(acme, "acme.example", dns_responder)
    dns_responder.set_txt("sub.acme.example", claimed.record_value)
    actions.check_domain(claimed, actor=SYSTEM)

    actions.check_domain(claimed, actor=SYSTEM)

    assert claimed.status == ClaimedDomain.Status.TAKEN
    assert [action for action, _ in events(claimed)] == [
        "domain.claimed",
        "domain.taken",
    ]


def test_the_domains_page_says_why_a_nested_claim_was_not_verified(
    client, acme, globex, dns_responder
):
    claimed = actions.claim_domain(globex, domain="sub.acme.example", actor=SYSTEM)
    verify_by_dns(acme, "acme.example", dns_responder)
    dns_responder.set_txt("sub.acme.example", claimed.record_value)
    actions.check_domain(claimed, actor=SYSTEM)
    assert client.login(email="owner@globex.example", password=PASSWORD)

    response = client.get(GLOBEX_DOMAINS)

    assert response.status_code == 200
    page = response.content.decode()
    assert (
        "Another organization verified a domain this one is under or above (see the "
        "last check below), so it cannot be verified here." in page
    )
    assert "Another organization verified this domain first." not in page
    assert (
        "The verification record was found on sub.acme.example, but sub.acme.example "
        "is under acme.example, which another organization verified." in page
    )


def test_the_organizations_own_parent_and_lookalike_names_do_not_keep_a_claim_unverified(
    acme, globex, dns_responder
):
    verify_by_dns(acme, "acme.example", dns_responder)
    # Its own verified parent does not keep an organization out of a subdomain.
    verify_by_dns(acme, "eu.acme.example", dns_responder)
    # notacme.example merely ends with the same letters as acme.example.
    verify_by_dns(globex, "notacme.example", dns_responder)
    # A pending claim proves nothing: it does not keep another organization out.
    actions.claim_domain(acme, domain="pending.example", actor=SYSTEM)
    verify_by_dns(globex, "sub.pending.example", dns_responder)


def test_a_failing_domain_still_keeps_a_nested_claim_unverified(
    acme, globex, dns_responder
):
    claimed = actions.claim_domain(globex, domain="sub.acme.example", actor=SYSTEM)
    parent = verify_by_dns(acme, "acme.example", dns_responder)
    dns_responder.remove("acme.example")
    actions.check_domain(parent, actor=SYSTEM)
    assert parent.status == ClaimedDomain.Status.FAILING
    dns_responder.set_txt("sub.acme.example", claimed.record_value)

    actions.check_domain(claimed, actor=SYSTEM)

    assert claimed.status == ClaimedDomain.Status.TAKEN


def test_a_claim_made_with_the_nesting_override_verifies_later(
    acme, globex, dns_responder
):
    # Nothing was verified when the operator claimed it: the override still counts.
    claimed = actions.claim_domain(
        globex, domain="sub.acme.example", actor=SYSTEM, allow_nested=True
    )
    assert claimed.nesting_allowed
    verify_by_dns(acme, "acme.example", dns_responder)
    dns_responder.set_txt("sub.acme.example", claimed.record_value)

    actions.check_domain(claimed, actor=SYSTEM)

    assert claimed.status == ClaimedDomain.Status.VERIFIED
    assert events(claimed) == [
        (
            "domain.claimed",
            {"domain": "sub.acme.example", "override": {"nested": None}},
        ),
        (
            "domain.verified",
            {
                "domain": "sub.acme.example",
                "status": {"from": "pending", "to": "verified"},
                "reason": "the record was found",
                "nested": {"under": "acme.example"},
            },
        ),
    ]


def test_an_ordinary_claim_does_not_allow_nesting(globex):
    claimed = actions.claim_domain(globex, domain="widgets.example", actor=SYSTEM)

    claimed.refresh_from_db()
    assert not claimed.nesting_allowed


# ----------------------------------------------------------- mark_domain_verified


def test_marking_a_nested_claim_verified_is_refused(acme, globex, dns_responder):
    claimed = actions.claim_domain(globex, domain="sub.acme.example", actor=SYSTEM)
    verify_by_dns(acme, "acme.example", dns_responder)

    with pytest.raises(DomainAlreadyClaimed) as refused:
        actions.mark_domain_verified(claimed, actor=SYSTEM)

    assert refused.value.message == (
        "sub.acme.example is under acme.example, which another organization verified. "
        "Verifying it needs the operator's override of the nesting rule "
        "(claim_domain --allow-nested)."
    )
    claimed.refresh_from_db()
    assert claimed.status == ClaimedDomain.Status.PENDING
    assert not claimed.nesting_allowed
    assert [action for action, _ in events(claimed)] == ["domain.claimed"]


def test_marking_a_parent_of_another_organizations_domain_verified_is_refused(
    acme, globex, dns_responder
):
    claimed = actions.claim_domain(globex, domain="widgets.example", actor=SYSTEM)
    verify_by_dns(acme, "labs.widgets.example", dns_responder)

    with pytest.raises(DomainAlreadyClaimed, match=r"^labs.widgets.example, which"):
        actions.mark_domain_verified(claimed, actor=SYSTEM)

    claimed.refresh_from_db()
    assert claimed.status == ClaimedDomain.Status.PENDING


def test_the_operator_may_mark_a_nested_claim_verified_when_saying_so(
    acme, globex, dns_responder
):
    claimed = actions.claim_domain(globex, domain="sub.acme.example", actor=SYSTEM)
    verify_by_dns(acme, "acme.example", dns_responder)

    actions.mark_domain_verified(claimed, actor=SYSTEM, allow_nested=True)

    claimed.refresh_from_db()
    assert claimed.status == ClaimedDomain.Status.VERIFIED
    assert claimed.nesting_allowed
    assert events(claimed)[-1] == (
        "domain.verified",
        {
            "domain": "sub.acme.example",
            "status": {"from": "pending", "to": "verified"},
            "override": True,
            "nested": {"under": "acme.example"},
            "nesting_allowed": {"from": False, "to": True},
        },
    )


def test_a_claim_made_with_the_nesting_override_may_be_marked_verified(
    acme, globex, dns_responder
):
    verify_by_dns(acme, "acme.example", dns_responder)

    out = StringIO()
    call_command(
        "claim_domain",
        "globex",
        "sub.acme.example",
        "--allow-nested",
        "--verified",
        stdout=out,
    )

    assert out.getvalue() == "sub.acme.example is verified for globex.\n"
    claimed = globex.claimed_domains.get()
    assert claimed.status == ClaimedDomain.Status.VERIFIED
    assert claimed.nesting_allowed
    verified = AuditEvent.objects.get(action="domain.verified", organization=globex)
    assert verified.changes["nested"] == {"under": "acme.example"}
    assert "nesting_allowed" not in verified.changes  # the claim already had it


def test_the_admins_mark_verified_reports_a_nested_claim_it_refuses(
    client, operator_user, acme, globex, dns_responder
):
    claimed = actions.claim_domain(globex, domain="sub.acme.example", actor=SYSTEM)
    verify_by_dns(acme, "acme.example", dns_responder)
    client.force_login(operator_user)

    response = client.post(
        reverse("admin:orgadmin_claimeddomain_changelist"),
        {"action": "mark_verified", "_selected_action": [claimed.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert [str(message) for message in response.context["messages"]] == [
        "sub.acme.example: sub.acme.example is under acme.example, which another "
        "organization verified. Verifying it needs the operator's override of the "
        "nesting rule (claim_domain --allow-nested)."
    ]
    claimed.refresh_from_db()
    assert claimed.status == ClaimedDomain.Status.PENDING


# ------------------------------------------------------------------ at the same moment


@pytest.mark.postgres
def test_a_domain_and_its_subdomain_verified_at_once_leave_one_winner(
    transactional_db, dns_responder
):
    for round_ in range(8):
        parent = f"acme{round_}.example"
        first = make_organization(f"first{round_}", domain=None)
        second = make_organization(f"second{round_}", domain=None)
        claims = [
            actions.claim_domain(first, domain=parent, actor=SYSTEM),
            actions.claim_domain(second, domain=f"sub.{parent}", actor=SYSTEM),
        ]
        for claim in claims:
            dns_responder.set_txt(claim.domain, claim.record_value)

        results = in_parallel(
            *[lambda c=c: actions.check_domain(c, actor=SYSTEM) for c in claims]
        )

        assert not [r for r in results if isinstance(r, Exception)], results
        statuses = sorted(
            ClaimedDomain.objects.filter(domain__endswith=parent).values_list(
                "status", flat=True
            )
        )
        assert statuses == ["taken", "verified"], f"round {round_}"
        outcomes = sorted(
            AuditEvent.objects.filter(changes__domain__endswith=parent)
            .exclude(action="domain.claimed")
            .values_list("action", flat=True)
        )
        assert outcomes == ["domain.taken", "domain.verified"]


@pytest.mark.postgres
def test_a_domain_and_its_subdomain_marked_verified_at_once_leave_one_winner(
    transactional_db,
):
    for round_ in range(8):
        parent = f"acme{round_}.example"
        first = make_organization(f"first{round_}", domain=None)
        second = make_organization(f"second{round_}", domain=None)
        claims = [
            actions.claim_domain(first, domain=parent, actor=SYSTEM),
            actions.claim_domain(second, domain=f"sub.{parent}", actor=SYSTEM),
        ]

        results = in_parallel(
            *[lambda c=c: actions.mark_domain_verified(c, actor=SYSTEM) for c in claims]
        )

        refused = [r for r in results if isinstance(r, Exception)]
        assert len(refused) == 1, f"round {round_}: {results}"
        assert isinstance(refused[0], DomainAlreadyClaimed)
        verified = ClaimedDomain.objects.filter(
            domain__endswith=parent, status=ClaimedDomain.Status.VERIFIED
        )
        assert verified.count() == 1
