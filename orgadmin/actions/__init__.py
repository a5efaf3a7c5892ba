"""Every write the UI, SCIM, the Django admin and the commands share.

One module per noun (as Zulip's `zerver/actions/`), re-exported here so callers write
`actions.claim_domain(...)`. The rules every action follows:

- It is `verb_noun(obj, *, actor, ...)`: the main object positional, the rest
  keyword-only, and `actor` an `orgadmin.audit.Actor` (a bare User means a person in
  the UI).
- It runs in one transaction and owns its row locks and version checks; callers never
  open a transaction or lock rows for it.
- It records one audit event when something changed, and none when nothing did.
- It raises `OrgAdminError` subclasses for every refusal; it never returns None or a
  dict to mean failure.
"""

from orgadmin.actions.accounts import (
    ACCOUNT_FIELDS,
    create_account,
    set_account_password,
    update_account,
)
from orgadmin.actions.deprovisioning import (
    resume_deprovisioning,
    update_deprovisioning_brake,
)
from orgadmin.actions.domains import (
    check_domain,
    claim_domain,
    expire_domain,
    mark_domain_verified,
    recheck_domains,
    release_domain,
)
from orgadmin.actions.invitations import (
    accept_invitation,
    add_member,
    resend_invitation,
    revoke_invitation,
)
from orgadmin.actions.members import (
    change_member_role,
    deactivate_member,
    linkable_account,
    provision_member,
    reactivate_member,
    record_proven_email,
    remove_member,
    update_member,
)
from orgadmin.actions.organizations import (
    ORGANIZATION_SETTINGS,
    create_organization,
    update_organization,
)
from orgadmin.actions.ownership import transfer_ownership
from orgadmin.actions.removed_members import (
    purge_removed_members,
    restore_member,
)
from orgadmin.actions.scim_tokens import issue_scim_token, revoke_scim_token
from orgadmin.actions.security import record_security_event
from orgadmin.actions.sso import (
    SSO_SETTINGS,
    refresh_sso_metadata,
    update_sso_configuration,
    warn_of_expiring_sso_certificates,
)
from orgadmin.actions.sso_sign_in import admit_sso_sign_in, refuse_sso_attempt
from orgadmin.actions.team_roles import set_team_grants_role
from orgadmin.actions.teams import (
    add_team_members,
    adopt_team_for_scim,
    create_team,
    delete_team,
    remove_team_members,
    update_team,
)

__all__ = [
    "ACCOUNT_FIELDS",
    "ORGANIZATION_SETTINGS",
    "SSO_SETTINGS",
    "accept_invitation",
    "add_member",
    "add_team_members",
    "adopt_team_for_scim",
    "admit_sso_sign_in",
    "change_member_role",
    "check_domain",
    "claim_domain",
    "create_account",
    "create_organization",
    "create_team",
    "deactivate_member",
    "delete_team",
    "expire_domain",
    "issue_scim_token",
    "linkable_account",
    "mark_domain_verified",
    "provision_member",
    "purge_removed_members",
    "reactivate_member",
    "refresh_sso_metadata",
    "refuse_sso_attempt",
    "recheck_domains",
    "record_proven_email",
    "record_security_event",
    "release_domain",
    "remove_member",
    "remove_team_members",
    "resend_invitation",
    "restore_member",
    "resume_deprovisioning",
    "revoke_invitation",
    "revoke_scim_token",
    "set_account_password",
    "set_team_grants_role",
    "transfer_ownership",
    "update_account",
    "update_deprovisioning_brake",
    "update_member",
    "update_organization",
    "update_sso_configuration",
    "warn_of_expiring_sso_certificates",
    "update_team",
]
