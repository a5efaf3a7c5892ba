"""The admin's SSO records: an operator finds why a person's SSO sign-in failed, and
neither the attempts nor the used assertion IDs can be added, changed or deleted."""

import pytest
from django.urls import reverse

from orgadmin.models import SAMLAssertionUse, SSOAttempt
from tests.orgadmin.test_admin_one_door import (
    build_saml_assertion_use,
    build_sso_attempt,
    offered_actions,
)


@pytest.fixture
def operator_client(client, operator_user):
    client.force_login(operator_user)
    return client


def test_an_operator_finds_a_refused_sso_attempt_by_the_persons_email(
    operator_client, organization
):
    refused = build_sso_attempt(organization, 1)
    build_sso_attempt(organization, 2)
    changelist = reverse("admin:orgadmin_ssoattempt_changelist")

    page = operator_client.get(changelist, {"q": "person1@acme.example"})

    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == [refused]
    body = page.content.decode()
    assert refused.reference in body and "signature" in body
    detail = operator_client.get(
        reverse("admin:orgadmin_ssoattempt_change", args=[refused.pk])
    )
    assert "The response is not signed." in detail.content.decode()


def test_sso_attempts_are_listed_newest_first_and_filter_by_outcome(
    operator_client, organization
):
    older, newer = (
        build_sso_attempt(organization, 1),
        build_sso_attempt(organization, 2),
    )
    changelist = reverse("admin:orgadmin_ssoattempt_changelist")

    page = operator_client.get(changelist)
    assert list(page.context["cl"].result_list) == [newer, older]
    signed_in = operator_client.get(changelist, {"outcome__exact": "signed_in"})
    assert list(signed_in.context["cl"].result_list) == []


def test_an_operator_finds_a_used_assertion_id(operator_client, organization):
    used = build_saml_assertion_use(organization, 1)
    page = operator_client.get(
        reverse("admin:orgadmin_samlassertionuse_changelist"),
        {"q": used.assertion_id},
    )
    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == [used]


@pytest.mark.parametrize(
    ("model", "build"),
    [(SSOAttempt, build_sso_attempt), (SAMLAssertionUse, build_saml_assertion_use)],
    ids=["ssoattempt", "samlassertionuse"],
)
def test_sso_records_offer_no_add_change_or_delete(
    operator_client, organization, model, build
):
    obj = build(organization, 1)
    name = model._meta.model_name
    change = reverse(f"admin:orgadmin_{name}_change", args=[obj.pk])
    assert operator_client.get(reverse(f"admin:orgadmin_{name}_add")).status_code == 403
    assert operator_client.get(change).status_code == 200  # a view-only page
    assert operator_client.post(change, {}).status_code == 403
    delete = reverse(f"admin:orgadmin_{name}_delete", args=[obj.pk])
    assert operator_client.post(delete, {"post": "yes"}).status_code == 403
    changelist = operator_client.get(reverse(f"admin:orgadmin_{name}_changelist"))
    assert "delete_selected" not in offered_actions(changelist)
    assert model.objects.filter(pk=obj.pk).exists()
