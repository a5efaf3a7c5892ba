"""Which domains an organization may claim: names that can resolve publicly, at most
PENDING_CLAIMS_LIMIT pending at once, and none nested in another organization's."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from orgadmin import actions
from orgadmin.domains import PENDING_CLAIMS_LIMIT, normalize_domain
from orgadmin.errors import DomainAlreadyClaimed, DomainNotAllowed, InvalidValue
from orgadmin.models import AuditEvent, ClaimedDomain
from tests.helpers import PASSWORD, SYSTEM, make_organization, verify_domain_now
from tests.orgadmin.test_domain_dns import run_at_once

DOMAINS = "/organizations/acme/access-security/domains/"
NOT_PUBLIC = (
    "a special-use name that never resolves on the public internet. Claim your "
    "company's registered domain, such as yourcompany.com."
)
PENDING_LIMIT_MESSAGE = (
    f"This organization already has {PENDING_CLAIMS_LIMIT} domains waiting for "
    "verification, the most it may have. Verify or remove some of them before adding "
    "another."
)


def field_errors(response):
    assert response.status_code == 200
    assert 'id="id_domain_error"' in response.content.decode()
    return response.context["form"]["domain"].errors


def claim_pending(organization, count):
    for index in range(count):
        actions.claim_domain(organization, domain=f"d{index}.example", actor=SYSTEM)


# ------------------------------------------------------------- names that never resolve


@pytest.mark.parametrize(
    ("typed", "suffix"),
    [
        ("corp.local", "local"),
        ("db.svc.cluster.local", "local"),
        ("x.localhost", "localhost"),
        ("metadata.google.internal", "internal"),
        ("host.docker.internal", "internal"),
        ("printer.home.arpa", "arpa"),
        ("1.0.0.127.in-addr.arpa", "arpa"),
        ("duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion", "onion"),
        ("acme.invalid", "invalid"),
        ("Acme.Test.", "test"),
        ("acme.alt", "alt"),
    ],
)
def test_special_use_names_are_refused(organization, typed, suffix):
    with pytest.raises(DomainNotAllowed) as refused:
        actions.claim_domain(organization, domain=typed, actor=SYSTEM)

    stored = typed.lower().rstrip(".")
    assert refused.value.message == f"{stored} is under .{suffix}, {NOT_PUBLIC}"
    assert refused.value.field == "domain"


@pytest.mark.parametrize("typed", ["acme.corp", "nas.lan", "intranet.acme.zz"])
def test_a_top_level_domain_missing_from_the_public_suffix_list_is_refused(
    organization, typed
):
    with pytest.raises(DomainNotAllowed) as refused:
        actions.claim_domain(organization, domain=typed, actor=SYSTEM)

    tld = typed.rpartition(".")[2]
    assert refused.value.message == (
        f"{typed} ends in .{tld}, which is not a top-level domain on the public "
        "internet. Claim your company's registered domain, such as yourcompany.com."
    )


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("acme.example", "acme.example"),  # RFC 2606 documentation names: allowed
        ("acme.co.uk", "acme.co.uk"),
        ("Acme.рф", "acme.xn--p1ai"),
        ("acme.xn--p1ai", "acme.xn--p1ai"),
        ("acme.dev", "acme.dev"),
        ("example.org", "example.org"),
    ],
)
def test_names_under_public_and_documentation_suffixes_are_claimable(typed, stored):
    assert normalize_domain(typed) == stored


def test_a_special_use_name_is_an_error_next_to_the_field(owner_client, organization):
    response = owner_client.post(DOMAINS, {"domain": "metadata.google.internal"})

    assert field_errors(response) == [
        f"metadata.google.internal is under .internal, {NOT_PUBLIC}"
    ]
    assert not organization.claimed_domains.filter(domain__endswith="internal")


# ------------------------------------------------------------------ pending claims cap


def test_pending_claims_are_capped_per_organization(organization):
    claim_pending(organization, PENDING_CLAIMS_LIMIT)

    with pytest.raises(InvalidValue) as refused:
        actions.claim_domain(organization, domain="one-more.example", actor=SYSTEM)

    assert refused.value.message == PENDING_LIMIT_MESSAGE
    assert refused.value.field == "domain"
    assert refused.value.code == "too_many_pending_claims"
    assert not ClaimedDomain.objects.filter(domain="one-more.example").exists()
    # Another organization has its own allowance.
    globex = make_organization("globex", domain=None)
    actions.claim_domain(globex, domain="one-more.example", actor=SYSTEM)


def test_only_pending_claims_count_towards_the_cap(organization):
    claim_pending(organization, PENDING_CLAIMS_LIMIT - 1)
    verify_domain_now(organization, "verified.example")
    expired = actions.claim_domain(organization, domain="old.example", actor=SYSTEM)
    actions.expire_domain(
        expired, actor=SYSTEM, now=expired.created_at + ClaimedDomain.PENDING_PERIOD
    )
    last = actions.claim_domain(organization, domain="last.example", actor=SYSTEM)
    assert last.status == ClaimedDomain.Status.PENDING

    with pytest.raises(InvalidValue, match="already has 20 domains waiting"):
        actions.claim_domain(organization, domain="over.example", actor=SYSTEM)
    actions.release_domain(last, actor=SYSTEM)
    actions.claim_domain(organization, domain="over.example", actor=SYSTEM)


@pytest.mark.postgres
def test_claims_made_at_the_same_moment_do_not_pass_the_cap_together(transactional_db):
    organization = make_organization()
    claim_pending(organization, PENDING_CLAIMS_LIMIT - 1)

    errors = run_at_once(
        [
            lambda name=name: actions.claim_domain(
                organization, domain=name, actor=SYSTEM
            )
            for name in ("first.example", "second.example", "third.example")
        ]
    )

    assert [error.code for error in errors] == ["too_many_pending_claims"] * 2
    pending = organization.claimed_domains.filter(status=ClaimedDomain.Status.PENDING)
    assert pending.count() == PENDING_CLAIMS_LIMIT


def test_the_pending_claims_cap_is_an_error_next_to_the_field(
    owner_client, organization
):
    claim_pending(organization, PENDING_CLAIMS_LIMIT)

    response = owner_client.post(DOMAINS, {"domain": "one-more.example"})

    assert field_errors(response) == [PENDING_LIMIT_MESSAGE]


def test_the_pending_claims_cap_is_one_line_from_the_command(organization):
    claim_pending(organization, PENDING_CLAIMS_LIMIT)

    with pytest.raises(CommandError) as refused:
        call_command("claim_domain", "acme", "one-more.example", stdout=StringIO())

    assert str(refused.value) == PENDING_LIMIT_MESSAGE


# -------------------------------------------------- nested in another organization's


@pytest.fixture
def globex(organization):
    """A second organization; Acme (the `organization` fixture) verified acme.example."""
    return make_organization("globex", domain="globex.example")


def test_a_subdomain_of_another_organizations_verified_domain_is_refused(globex):
    with pytest.raises(DomainAlreadyClaimed) as refused:
        actions.claim_domain(globex, domain="Sub.Acme.Example", actor=SYSTEM)

    assert refused.value.message == (
        "sub.acme.example is under acme.example, which another organization verified."
    )
    assert refused.value.field == "domain"
    assert not globex.claimed_domains.filter(domain="sub.acme.example").exists()


def test_a_deeper_subdomain_names_the_nearest_verified_parent(globex, organization):
    verify_domain_now(organization, "eu.acme.example")

    with pytest.raises(DomainAlreadyClaimed) as refused:
        actions.claim_domain(globex, domain="shop.eu.acme.example", actor=SYSTEM)

    assert refused.value.message == (
        "shop.eu.acme.example is under eu.acme.example, which another organization "
        "verified."
    )


def test_a_parent_of_another_organizations_verified_domain_is_refused(
    globex, organization
):
    verify_domain_now(globex, "labs.widgets.example")

    with pytest.raises(DomainAlreadyClaimed) as refused:
        actions.claim_domain(organization, domain="widgets.example", actor=SYSTEM)

    assert refused.value.message == (
        "labs.widgets.example, which another organization verified, is under "
        "widgets.example."
    )


def test_a_failing_domain_still_protects_its_subdomains(globex, organization):
    acme = organization.claimed_domains.get(domain="acme.example")
    acme.status = ClaimedDomain.Status.FAILING  # the grace period before unverifying
    acme.save()

    with pytest.raises(DomainAlreadyClaimed, match="under acme.example"):
        actions.claim_domain(globex, domain="sub.acme.example", actor=SYSTEM)


def test_nesting_only_counts_whole_labels_and_verified_claims(globex, organization):
    # notacme.example merely ends with the same letters as acme.example.
    actions.claim_domain(globex, domain="notacme.example", actor=SYSTEM)
    # A pending claim proves nothing yet: it does not keep others out.
    actions.claim_domain(globex, domain="pending.example", actor=SYSTEM)
    actions.claim_domain(organization, domain="sub.pending.example", actor=SYSTEM)
    # An organization's own verified domain does not keep it out of its subdomains.
    actions.claim_domain(organization, domain="labs.acme.example", actor=SYSTEM)


def test_a_nested_domain_is_an_error_next_to_the_field(client, globex):
    client.login(email="owner@globex.example", password=PASSWORD)

    response = client.post(
        "/organizations/globex/access-security/domains/", {"domain": "sub.acme.example"}
    )

    assert field_errors(response) == [
        "sub.acme.example is under acme.example, which another organization verified."
    ]


def test_the_operator_may_claim_a_nested_domain_only_when_saying_so(globex):
    with pytest.raises(CommandError) as refused:
        call_command("claim_domain", "globex", "sub.acme.example", stdout=StringIO())
    assert str(refused.value) == (
        "sub.acme.example is under acme.example, which another organization verified."
    )

    out = StringIO()
    call_command(
        "claim_domain", "globex", "sub.acme.example", "--allow-nested", stdout=out
    )

    assert "sub.acme.example is claimed for globex, pending." in out.getvalue()
    event = AuditEvent.objects.get(
        action="domain.claimed", organization=globex, changes__domain="sub.acme.example"
    )
    assert event.changes == {
        "domain": "sub.acme.example",
        "override": {"nested": "acme.example"},
    }
    assert event.actor_label == "Operator (manage.py claim_domain)"
