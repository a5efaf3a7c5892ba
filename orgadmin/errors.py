"""Errors that actions raise; each edge (form, SCIM, admin, command) translates them once."""


class OrgAdminError(Exception):
    """A write was refused. `message` is for people; `code` is for programs."""

    code = "invalid"

    def __init__(
        self, message: str, *, field: str | None = None, code: str | None = None
    ):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code

    def __str__(self) -> str:
        return self.message


class InvalidValue(OrgAdminError):
    code = "invalid_value"


class AlreadyExists(OrgAdminError):
    """A unique value (userName, externalId, team name, domain) is already taken."""

    code = "uniqueness"


class DomainNotAllowed(OrgAdminError):
    """The text is not a domain an organization can claim (URL, IP, public suffix...)."""

    code = "domain_not_allowed"


class DomainAlreadyClaimed(OrgAdminError):
    code = "domain_already_claimed"


class DomainNotVerified(OrgAdminError):
    """An email is not on one of the organization's verified domains."""

    code = "domain_not_verified"


class LastOwner(OrgAdminError):
    """The change would leave the organization without an active owner."""

    code = "last_owner"


class NotPermitted(OrgAdminError):
    code = "not_permitted"


class VersionMismatch(OrgAdminError):
    """The row changed since the caller read it: read it again before writing."""

    code = "version_mismatch"

    def __init__(self, message: str, *, current_version: int):
        super().__init__(message)
        self.current_version = current_version


class NoLongerExists(OrgAdminError):
    """The row was deleted between the caller's read and the write."""

    code = "no_longer_exists"


class ProtectedOwner(NotPermitted):
    """Owners are managed by owners: not by admins, and not by the directory (SCIM)."""

    code = "protected_owner"


class InvitationNotValid(OrgAdminError):
    """An invitation link that was tampered with, used, replaced, revoked or expired.

    `organization` is set when the link is genuine, so the page can say whom to ask.
    """

    code = "invitation_not_valid"

    def __init__(self, message: str, *, organization=None):
        super().__init__(message)
        self.organization = organization


class SSOSignInRefused(OrgAdminError):
    """An IdP's answer did not sign anyone in; `attempt` is the SSOAttempt kept for it."""

    code = "sso_refused"

    def __init__(self, message: str, *, attempt):
        super().__init__(message)
        self.attempt = attempt


class DeprovisioningPaused(OrgAdminError):
    """The deprovisioning brake refused a SCIM request that takes access away; nothing
    of the request was applied. An owner reviews and presses Resume; the identity
    provider retries after `retry_after` seconds.

    `held_back` describes the refused request (organization, kind, member, token), for
    the record written once the action's transaction has rolled back.
    """

    code = "deprovisioning_paused"

    def __init__(self, message: str, *, retry_after: int, held_back: dict):
        super().__init__(message)
        self.retry_after = retry_after
        self.held_back = held_back
