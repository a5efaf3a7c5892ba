"""The SCIM table and the member actions agree on where each User attribute lives, so
adding a stored attribute cannot be half done."""

from orgadmin.actions.members import MemberChanges
from orgadmin.models import Member
from scim.resource_schema import USER


def member_columns(attributes):
    """(name, Member field) of each writable attribute kept on Member itself: single
    values, JSON lists, and the sub-attributes of a single complex one (name)."""
    for attribute in attributes:
        if attribute.read_only or attribute.rows:
            continue  # read-only, or kept as rows (emails: passed as one list)
        if attribute.field:
            yield attribute.name, attribute.field
        elif not attribute.multi_valued:
            yield from member_columns(attribute.sub_attributes)


def test_every_writable_user_attribute_the_table_stores_is_an_update_field():
    model_fields = {field.name for field in Member._meta.get_fields()}
    found = []
    for _, attributes in USER.namespaces():
        for name, field in member_columns(attributes.values()):
            found.append(field)
            assert field in model_fields, f"{name} is stored in Member.{field}"
            assert field in MemberChanges.__annotations__, (
                f"{name} (Member.{field}) is missing from MemberChanges"
            )
    assert {"given_name", "entitlements", "department", "manager"} <= set(found)
