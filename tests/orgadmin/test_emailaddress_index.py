"""The proven-address lookup of provisioning uses an index on PostgreSQL."""

import pytest
from allauth.account.models import EmailAddress
from django.db import connection

from orgadmin.models import User


@pytest.mark.postgres
def test_the_case_insensitive_address_lookup_uses_an_index(db):
    for n in range(50):
        user = User.objects.create_user(email=f"person{n}@acme.example")
        EmailAddress.objects.create(user=user, email=user.email, verified=True)
    lookup = EmailAddress.objects.filter(email__iexact="Person7@ACME.example")
    sql, params = lookup.query.sql_with_params()
    with connection.cursor() as cursor:
        # A table this small would be scanned anyway; the question is whether an
        # index can serve the lookup at all.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "orgadmin_account_emailaddress_upper_email" in plan, plan
