"""The brake's count under parallel requests, on PostgreSQL: the brake row's lock makes
parallel deactivations count one after the other, so the threshold is never passed."""

from datetime import timedelta

import pytest
from django.utils import timezone

from orgadmin import actions
from orgadmin.models import Deprovisioning, DeprovisioningBrake, Member
from tests import helpers
from tests.helpers import SYSTEM, ScimClient, in_parallel

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_parallel_deactivations_never_pass_the_threshold():
    organization = helpers.make_organization()
    secret = helpers.issue_token(organization)
    members = [
        actions.provision_member(
            organization, user_name=f"p{index}@acme.example", actor=SYSTEM
        )
        for index in range(39)
    ]
    Member.objects.for_organization(organization).update(
        created_at=timezone.now() - timedelta(days=1)
    )

    # 40 active: 20% is 8, the minimum 10; 16 parallel deactivations.
    def deactivate(member):
        return lambda: (
            helpers.patch(
                ScimClient(secret),
                str(member.scim_id),
                {"op": "replace", "path": "active", "value": False},
            ).status_code
        )

    statuses = in_parallel(*(deactivate(member) for member in members[:16]))

    assert sorted(statuses) == [200] * 9 + [503] * 7
    assert Member.objects.for_organization(organization).active().count() == 40 - 9
    assert Deprovisioning.objects.for_organization(organization).applied().count() == 9
    assert (
        Deprovisioning.objects.for_organization(organization).held_back().count() == 7
    )
    assert DeprovisioningBrake.objects.get(organization=organization).is_tripped
