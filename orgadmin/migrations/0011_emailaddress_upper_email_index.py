"""An index for the case-insensitive lookups of allauth's email addresses.

Provisioning a member looks its address up among the proven ones
(`EmailAddress.objects.filter(email__iexact=...)`, orgadmin/actions/members.py), and
Django compares `UPPER(email::text) = UPPER(%s)` on PostgreSQL, which allauth's own
index on `email` cannot serve: with 100,000 accounts that was a sequential scan per
SCIM POST. allauth's model is not ours to give a Meta index, so the index is made here.
SQLite compares with LIKE, which no index serves; nothing is done there.
"""

from django.db import migrations

INDEX = "orgadmin_account_emailaddress_upper_email"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} "
            "ON account_emailaddress (UPPER(email::text))"
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("orgadmin", "0010_domain_nesting_allowed"),
        ("account", "0009_emailaddress_unique_primary_email"),
    ]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
