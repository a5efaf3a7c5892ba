"""The organization, its people, teams, claimed domains, SSO settings, SCIM tokens and audit log.

Writes go through orgadmin.actions; the models hold fields, constraints and reads.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from datetime import datetime, timedelta

from django.contrib.auth.models import (
    AbstractBaseUser,
    BaseUserManager,
    PermissionsMixin,
)
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.timezone import now

from orgadmin import domains


class Organization(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    created_at = models.DateTimeField(default=now)
    restrict_to_claimed_domains = models.BooleanField(
        default=True,
        help_text="Only people with an email on a verified claimed domain may be "
        "provisioned by SCIM or signed in through the organization's IdP.",
    )
    scim_enabled = models.BooleanField(
        "SCIM enabled",
        default=True,
        help_text="Set by operators (the plan's entitlement).",
    )
    sso_enabled = models.BooleanField(
        "SSO enabled",
        default=True,
        help_text="Set by operators (the plan's entitlement).",
    )
    require_two_factor = models.BooleanField(
        "require two-factor authentication",
        default=False,
        help_text="People who sign in with a password must set up an authenticator "
        "app; people signing in with SSO are left to the IdP.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def verified_domain_names(self) -> set[str]:
        return set(
            self.claimed_domains.filter(
                status__in=ClaimedDomain.VERIFIED_STATUSES
            ).values_list("domain", flat=True)
        )


class UserManager(BaseUserManager):
    use_in_migrations = True

    def normalize_email(self, email):
        # The whole address is case-insensitive here, not just the domain.
        return (email or "").strip().lower()

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)

    def get_by_natural_key(self, email):
        return self.get(email__iexact=email)


class User(AbstractBaseUser, PermissionsMixin):
    """A person's account. One account may belong to several organizations."""

    email = models.EmailField(max_length=254)
    full_name = models.CharField(max_length=200, blank=True)
    is_staff = models.BooleanField(
        default=False, help_text="Operators: may use the Django admin."
    )
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_unique_ci"),
        ]

    def __str__(self) -> str:
        return self.email

    def clean(self):
        super().clean()
        self.email = User.objects.normalize_email(self.email)

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class MemberQuerySet(models.QuerySet):
    def for_organization(self, organization: Organization) -> MemberQuerySet:
        return self.filter(organization=organization)

    def active(self) -> MemberQuerySet:
        return self.filter(is_active=True)

    def administrators(self) -> MemberQuerySet:
        return self.filter(role__in=[Member.Role.OWNER, Member.Role.ADMIN])

    def invited(self) -> MemberQuerySet:
        """Pending invitations: the person has not followed the link yet."""
        return self.filter(user__isnull=True).exclude(invitation_nonce="")


class Member(models.Model):
    """One person in one organization; also the SCIM User resource of that organization."""

    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    class Source(models.TextChoices):
        INVITED = "invited", "Invited"
        SCIM = "scim", "SCIM"
        SSO = "sso", "SSO"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="members"
    )
    user = models.ForeignKey(
        "User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="memberships",
        help_text="The person's account; empty for a SCIM user with no email.",
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    is_active = models.BooleanField("active", default=True)
    source = models.CharField(
        max_length=10, choices=Source.choices, default=Source.INVITED
    )

    # SCIM identity (RFC 7643 section 4.1). scim_id is the public "id": never the pk.
    scim_id = models.UUIDField(
        "SCIM id", default=uuid.uuid4, unique=True, editable=False
    )
    user_name = models.CharField(max_length=255)
    external_id = models.CharField(max_length=255, null=True, blank=True)
    display_name = models.CharField(max_length=255, blank=True)
    formatted_name = models.CharField(max_length=255, blank=True)
    given_name = models.CharField(max_length=255, blank=True)
    family_name = models.CharField(max_length=255, blank=True)
    middle_name = models.CharField(max_length=255, blank=True)
    honorific_prefix = models.CharField(max_length=64, blank=True)
    honorific_suffix = models.CharField(max_length=64, blank=True)
    nick_name = models.CharField(max_length=255, blank=True)
    title = models.CharField(max_length=255, blank=True)
    user_type = models.CharField(max_length=64, blank=True)
    preferred_language = models.CharField(max_length=64, blank=True)
    locale = models.CharField(max_length=64, blank=True)
    timezone = models.CharField(max_length=64, blank=True)
    # Emails are rows of MemberEmail (filterable); these multi-valued attributes are kept
    # as SCIM shapes: [{"value", "type", "primary"}, ...].
    phone_numbers = models.JSONField(default=list, blank=True)
    addresses = models.JSONField(default=list, blank=True)
    roles = models.JSONField(default=list, blank=True)
    ims = models.JSONField(default=list, blank=True)
    photos = models.JSONField(default=list, blank=True)
    entitlements = models.JSONField(default=list, blank=True)
    x509_certificates = models.JSONField(default=list, blank=True)
    # The work email (primary, else first work, else first, else an email userName),
    # computed by the actions whenever emails or userName change.
    email = models.CharField(max_length=254, blank=True, db_index=True)
    # Enterprise extension (urn:ietf:params:scim:schemas:extension:enterprise:2.0:User).
    employee_number = models.CharField(max_length=255, blank=True)
    cost_center = models.CharField(max_length=255, blank=True)
    organization_name = models.CharField(
        max_length=255,
        blank=True,
        help_text="The enterprise extension's 'organization'.",
    )
    division = models.CharField(max_length=255, blank=True)
    department = models.CharField(max_length=255, blank=True)
    manager = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="reports"
    )

    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(default=now)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(
        default=1, help_text="Bumped on every change (ETag)."
    )
    # An invited person stays pending (no account linked) until they follow the
    # emailed link, which carries invitation_nonce: a resend replaces the nonce and
    # acceptance clears it, so every older link stops working.
    invited_at = models.DateTimeField(null=True, blank=True)
    invitation_expires_at = models.DateTimeField(null=True, blank=True)
    invitation_nonce = models.CharField(max_length=64, blank=True, editable=False)
    # Set when a team that grants a role (Team.grants_role) gave this member theirs, so
    # that leaving the team takes back only a role the team gave, never one given by
    # hand.
    role_granted_by_team = models.BooleanField(default=False, editable=False)

    objects = MemberQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                "organization", Lower("user_name"), name="member_user_name_unique_ci"
            ),
            models.UniqueConstraint(
                fields=["organization", "external_id"],
                condition=Q(external_id__isnull=False),
                name="member_external_id_unique",
            ),
            models.UniqueConstraint(
                fields=["organization", "user"],
                condition=Q(user__isnull=False),
                name="member_user_unique",
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "created_at", "id"], name="member_org_created"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} in {self.organization}"

    @property
    def is_scim_managed(self) -> bool:
        return self.source == self.Source.SCIM

    @property
    def is_administrator(self) -> bool:
        return self.role in (self.Role.OWNER, self.Role.ADMIN)

    @property
    def label(self) -> str:
        return self.display_name or self.email or self.user_name

    @property
    def is_invitation_pending(self) -> bool:
        """Invited, and the link not followed yet (expired or not)."""
        return self.user_id is None and bool(self.invitation_nonce)

    @property
    def is_invitation_expired(self) -> bool:
        return self.is_invitation_pending and (
            self.invitation_expires_at is None or self.invitation_expires_at <= now()
        )

    @property
    def invitation_days_left(self) -> int:
        """Whole days, rounded up, until a pending invitation expires; 0 once it has."""
        if self.is_invitation_expired:
            return 0
        return math.ceil((self.invitation_expires_at - now()) / timedelta(days=1))


class MemberEmail(models.Model):
    """One of a member's SCIM emails; rows rather than JSON so that filters can reach them."""

    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="email_addresses"
    )
    value = models.CharField(max_length=254)
    type = models.CharField(max_length=32, blank=True)
    primary = models.BooleanField(default=False)
    display = models.CharField(max_length=254, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "pk"]
        indexes = [models.Index(Lower("value"), name="member_email_value_ci")]

    def __str__(self) -> str:
        return self.value

    def as_scim(self) -> dict:
        data = {"value": self.value, "primary": self.primary}
        if self.type:
            data["type"] = self.type
        if self.display:
            data["display"] = self.display
        return data


class TeamQuerySet(models.QuerySet):
    def for_organization(self, organization: Organization) -> TeamQuerySet:
        return self.filter(organization=organization)


class Team(models.Model):
    """A group of members; also the SCIM Group resource of the organization."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="teams"
    )
    scim_id = models.UUIDField(
        "SCIM id", default=uuid.uuid4, unique=True, editable=False
    )
    display_name = models.CharField(max_length=255)
    external_id = models.CharField(max_length=255, null=True, blank=True)
    is_scim_managed = models.BooleanField("managed by SCIM", default=False)
    grants_role = models.CharField(
        max_length=10,
        blank=True,
        choices=[(Member.Role.ADMIN, "Admin")],
        help_text="Members of this SCIM-managed team get this role, and lose it with "
        "the team; owners keep theirs.",
    )
    members = models.ManyToManyField(
        Member, through="TeamMembership", related_name="teams"
    )
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(default=now)
    version = models.PositiveIntegerField(default=1)

    objects = TeamQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                "organization",
                Lower("display_name"),
                name="team_display_name_unique_ci",
            ),
            models.UniqueConstraint(
                fields=["organization", "external_id"],
                condition=Q(external_id__isnull=False),
                name="team_external_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name


class TeamMembership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="team_memberships"
    )
    created_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["team", "member"], name="team_membership_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["member", "team"], name="team_membership_by_member")
        ]

    def __str__(self) -> str:
        return f"{self.member_id} in {self.team_id}"


class CheckOutcome(models.TextChoices):
    """What the last DNS lookup of a claimed domain's TXT record found."""

    VERIFIED = "verified", "Record found"
    NOT_FOUND = "not_found", "Record not found"
    MISMATCH = "mismatch", "A different value found"
    TRY_LATER = "try_later", "DNS did not answer; try later"


class ClaimedDomainQuerySet(models.QuerySet):
    def for_organization(self, organization: Organization) -> ClaimedDomainQuerySet:
        return self.filter(organization=organization)

    def failing(self) -> ClaimedDomainQuerySet:
        """Verified domains whose record has gone: still verified, owners warned."""
        return self.filter(status=ClaimedDomain.Status.FAILING)


class ClaimedDomain(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending verification"
        VERIFIED = "verified", "Verified"
        FAILING = "failing", "Verified, record missing"
        EXPIRED = "expired", "Expired"
        TAKEN = "taken", "Verified by another organization"

    # A failing domain is still verified until its grace period ends.
    VERIFIED_STATUSES = (Status.VERIFIED, Status.FAILING)
    RECORD_PREFIX = "orgadmin-domain-verification="
    # How long a pending claim is checked before it expires.
    PENDING_PERIOD = timedelta(days=14)
    # How long a verified domain may miss its record before it is unverified.
    FAILING_GRACE_PERIOD = timedelta(days=7)

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="claimed_domains"
    )
    domain = models.CharField(
        max_length=253, help_text="Lowercase, punycode, no trailing dot."
    )
    verification_token = models.CharField(max_length=64)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING
    )
    created_at = models.DateTimeField(default=now)
    verified_at = models.DateTimeField(null=True, blank=True)
    verified_by_override = models.BooleanField(
        "verified by operator override",
        default=False,
        help_text="Verified by an operator without DNS: a missing record does not "
        "make it failing; once its record is found it counts as verified by DNS.",
    )
    nesting_allowed = models.BooleanField(
        "nesting allowed by operator",
        default=False,
        help_text="Claimed (or marked verified) with the operator's override of the "
        "nesting rule: it may be verified although another organization verified a "
        "domain it is under or above.",
    )
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_check_outcome = models.CharField(
        max_length=32, blank=True, choices=CheckOutcome.choices
    )
    last_check_detail = models.TextField(blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    owners_warned_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When owners and admins were emailed about this failing period.",
    )

    objects = ClaimedDomainQuerySet.as_manager()

    class Meta:
        ordering = ["domain"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "domain"],
                name="claimed_domain_once_per_organization",
            ),
            models.UniqueConstraint(
                fields=["domain"],
                condition=Q(status__in=["verified", "failing"]),
                name="claimed_domain_one_verifier",
            ),
        ]

    def __str__(self) -> str:
        return self.domain

    @property
    def is_verified(self) -> bool:
        return self.status in self.VERIFIED_STATUSES

    @property
    def record_host(self) -> str:
        return self.domain

    @property
    def unicode_domain(self) -> str:
        """The domain as people write it (bücher.example), from the stored punycode."""
        return domains.unicode_domain(self.domain)

    @property
    def record_value(self) -> str:
        return f"{self.RECORD_PREFIX}{self.verification_token}"

    @property
    def pending_until(self) -> datetime | None:
        """When a pending claim expires unless its record is found before."""
        if self.status != self.Status.PENDING:
            return None
        return self.created_at + self.PENDING_PERIOD

    @property
    def unverify_after(self) -> datetime | None:
        """When a failing domain is unverified if its record is still missing."""
        if self.status != self.Status.FAILING or self.failing_since is None:
            return None
        return self.failing_since + self.FAILING_GRACE_PERIOD

    @property
    def last_check_message(self) -> str:
        """The last DNS check as a sentence for the organization's admins."""
        detail = self.last_check_detail
        host = self.record_host
        if not self.last_check_outcome:
            return "Not checked yet."
        if self.last_check_outcome == CheckOutcome.VERIFIED:
            # A detail here says why the found record did not verify (nesting).
            message = f"The verification record was found on {host}"
            return f"{message}, but {detail}" if detail else f"{message}."
        if self.last_check_outcome == CheckOutcome.NOT_FOUND:
            message = f"No TXT record with the verification value was found on {host}"
            return f"{message} ({detail})." if detail else f"{message}."
        if self.last_check_outcome == CheckOutcome.MISMATCH:
            return (
                f"{host} has a different verification value: {detail}. "
                "Replace it with the value shown here."
            )
        message = "DNS did not answer"
        message = f"{message} ({detail})" if detail else message
        return f"{message}; nothing changed, the check will be tried again."


class SSOConfiguration(models.Model):
    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="sso_configuration"
    )
    idp_entity_id = models.CharField("IdP entity ID", max_length=1024, blank=True)
    idp_sso_url = models.URLField("IdP sign-in URL", max_length=1024, blank=True)
    idp_x509_certificates = models.TextField(
        "IdP certificates", blank=True, help_text="PEM; several for a rotation."
    )
    idp_metadata_url = models.URLField("IdP metadata URL", max_length=1024, blank=True)
    idp_metadata_xml = models.TextField("IdP metadata XML", blank=True)
    enabled = models.BooleanField(default=False)
    require_sso = models.BooleanField(
        "require SSO",
        default=False,
        help_text="Claimed-domain people must sign in via the IdP.",
    )
    jit_provisioning = models.BooleanField(
        "just-in-time provisioning",
        default=True,
        help_text="Create a member on first SSO sign-in.",
    )
    default_role = models.CharField(
        max_length=10, choices=Member.Role.choices, default=Member.Role.MEMBER
    )
    allow_idp_initiated = models.BooleanField(
        "allow IdP-initiated sign-in",
        default=False,
        help_text="Accept responses the IdP sends unasked (from its app launcher); "
        "off, only sign-ins started here are accepted.",
    )
    metadata_fetched_at = models.DateTimeField(
        null=True, blank=True, help_text="When the metadata URL was last read."
    )
    metadata_error = models.TextField(
        blank=True, help_text="Why the last read of the metadata URL failed."
    )
    tested_at = models.DateTimeField(
        null=True, blank=True, help_text="When Test SSO last succeeded."
    )
    # {certificate SHA-256 fingerprint: [days ahead already warned about, ...]}
    certificate_warnings_sent = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(default=now)

    # The IdP signing certificates kept at once, so that an IdP can roll over.
    MAX_CERTIFICATES = 5
    # How many days before a certificate expires its owners and admins are emailed.
    CERTIFICATE_WARNING_DAYS = (30, 7)

    class Meta:
        verbose_name = "SSO configuration"
        constraints = [
            models.CheckConstraint(
                condition=~Q(default_role="owner"), name="sso_default_role_not_owner"
            ),
        ]

    def __str__(self) -> str:
        return f"SSO for {self.organization}"

    @property
    def has_idp_settings(self) -> bool:
        """Whether a sign-in can be sent to the IdP and its answer checked."""
        return bool(
            self.idp_entity_id and self.idp_sso_url and self.idp_x509_certificates
        )

    @property
    def signs_in(self) -> bool:
        """Whether people can sign in through the IdP now (not only test it)."""
        return self.enabled and self.has_idp_settings and self.organization.sso_enabled


class SSOAttemptQuerySet(models.QuerySet):
    def for_organization(self, organization: Organization) -> SSOAttemptQuerySet:
        return self.filter(organization=organization)


class SSOAttempt(models.Model):
    """One answer of an organization's IdP at the ACS, accepted or refused, and why."""

    # The SSO tab lists the latest; older ones are deleted past this many.
    KEEP_PER_ORGANIZATION = 1_000

    class Outcome(models.TextChoices):
        SIGNED_IN = "signed_in", "Signed in"
        REFUSED = "refused", "Refused"
        TEST_PASSED = "test_passed", "Test passed"
        TEST_FAILED = "test_failed", "Test failed"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="sso_attempts"
    )
    reference = models.CharField(
        max_length=16, unique=True, help_text="Shown to the person who was refused."
    )
    created_at = models.DateTimeField(default=now)
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    idp_initiated = models.BooleanField("IdP-initiated", default=False)
    claimed_email = models.CharField(max_length=254, blank=True)
    name_id = models.CharField("NameID", max_length=512, blank=True)
    name_id_format = models.CharField("NameID format", max_length=256, blank=True)
    email_attribute = models.CharField(
        max_length=256, blank=True, help_text="Where the email was read from."
    )
    matched_domain = models.CharField(max_length=253, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    reason_code = models.CharField(max_length=40, blank=True)
    reason = models.TextField(blank=True, help_text="Why it was refused, in words.")
    configured = models.TextField(blank=True)
    received = models.TextField(blank=True)
    member = models.ForeignKey(
        Member, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    objects = SSOAttemptQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "SSO attempt"
        indexes = [
            models.Index(
                fields=["organization", "-created_at"], name="sso_attempt_org_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.outcome}"

    @property
    def label(self) -> str:
        return f"SSO attempt {self.reference}"

    @property
    def is_test(self) -> bool:
        return self.outcome in (self.Outcome.TEST_PASSED, self.Outcome.TEST_FAILED)

    @property
    def succeeded(self) -> bool:
        return self.outcome in (self.Outcome.SIGNED_IN, self.Outcome.TEST_PASSED)


class SAMLAssertionUse(models.Model):
    """An assertion ID already accepted, kept until the assertion expires.

    In the database, not a cache, so that every worker refuses a replay.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+"
    )
    assertion_id = models.CharField(max_length=256)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "used SAML assertion"
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "assertion_id"], name="saml_assertion_used_once"
            ),
        ]

    def __str__(self) -> str:
        return self.assertion_id


class ScimTokenQuerySet(models.QuerySet):
    def usable(self) -> ScimTokenQuerySet:
        return self.filter(revoked_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now())
        )


class ScimToken(models.Model):
    """A bearer token for the SCIM endpoint. Only the SHA-256 digest of the secret is kept."""

    SECRET_PREFIX = "oa_scim_"
    # How often last_used_at is written: not on every request.
    LAST_USED_RESOLUTION = timedelta(minutes=1)

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="scim_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(
        max_length=16, help_text="The start of the token, to recognise it."
    )
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)

    objects = ScimTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "SCIM token"

    def __str__(self) -> str:
        return self.label

    @staticmethod
    def digest_of(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    @staticmethod
    def cache_key(digest: str) -> str:
        """Where the SCIM endpoint keeps the row for a second (scim/token_cache.py);
        revoking a token deletes it."""
        return f"scim-token:{digest}"

    @property
    def label(self) -> str:
        return f'SCIM token "{self.name}" ({self.prefix})'

    @property
    def status(self) -> str:
        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= now():
            return "expired"
        return "active"

    @property
    def is_usable(self) -> bool:
        return self.status == "active"


class ScimRequestLogQuerySet(models.QuerySet):
    def for_organization(self, organization: Organization) -> ScimRequestLogQuerySet:
        return self.filter(organization=organization)


class ScimRequestLog(models.Model):
    """One SCIM request, for the provisioning health view. Bounded per organization."""

    KEEP_PER_ORGANIZATION = 10_000

    class Outcome(models.TextChoices):
        """What a successful request changed, for the health counts."""

        CREATED = "created"
        UPDATED = "updated"
        DEACTIVATED = "deactivated"
        REACTIVATED = "reactivated"
        DELETED = "deleted"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="scim_requests"
    )
    token = models.ForeignKey(
        ScimToken,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="requests",
    )
    created_at = models.DateTimeField(default=now)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    status = models.PositiveSmallIntegerField()
    duration_ms = models.PositiveIntegerField(default=0)
    # Blank for a request that changed nothing (a read, a refusal, an unchanged PUT).
    outcome = models.CharField(max_length=20, blank=True, choices=Outcome.choices)
    error_detail = models.TextField(blank=True)

    objects = ScimRequestLogQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["organization", "-created_at"], name="scim_request_org_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.status}"


class AuditLogIsAppendOnly(Exception):
    """An attempt to change or delete an audit event: a programming error, never an
    outcome a person can cause."""


class AuditEventQuerySet(models.QuerySet):
    """Reads, and inserts; every bulk change or delete raises AuditLogIsAppendOnly."""

    def for_organization(self, organization: Organization) -> AuditEventQuerySet:
        return self.filter(organization=organization)

    def update(self, **kwargs):
        raise AuditLogIsAppendOnly("Audit events are never updated.")

    def delete(self):
        raise AuditLogIsAppendOnly("Audit events are never deleted.")

    def _raw_delete(self, using):
        # What Django's deletion collector calls to cascade without loading rows.
        raise AuditLogIsAppendOnly("Audit events are never deleted.")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AuditLogIsAppendOnly("Audit events are never updated.")

    def bulk_create(self, objs, *args, **kwargs):
        if kwargs.get("update_conflicts"):
            raise AuditLogIsAppendOnly("Audit events are never updated.")
        return super().bulk_create(objs, *args, **kwargs)


class AuditEvent(models.Model):
    """An append-only record of one write. Written only by orgadmin.audit.record_event.

    Nothing changes or deletes a row: save() inserts only, delete() and the queryset's
    update() and delete() raise, and deleting the organization, account or token an
    event names leaves the event as it was (DO_NOTHING, without a database constraint,
    so the id it kept may name a row that is gone; organization_slug and actor_label
    still say who). The queryset is also the base manager, so a future on_delete that
    would rewrite rows raises instead.
    """

    class ActorType(models.TextChoices):
        USER = "user", "User"
        SCIM_TOKEN = "scim_token", "SCIM token"
        OPERATOR = "operator", "Operator"
        SYSTEM = "system", "System"

    organization = models.ForeignKey(
        Organization,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="audit_events",
    )
    organization_slug = models.CharField(
        max_length=60, blank=True, help_text="Kept when the organization is deleted."
    )
    created_at = models.DateTimeField(default=now, db_index=True)
    actor_type = models.CharField(max_length=12, choices=ActorType.choices)
    actor_user = models.ForeignKey(
        User,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_token = models.ForeignKey(
        ScimToken,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_label = models.CharField(max_length=300)
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=300, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="audit_org_time"),
            # A member's access timeline: the events whose target is that member.
            models.Index(
                fields=["organization", "target_type", "target_id", "-created_at"],
                name="audit_org_target_time",
            ),
        ]
        base_manager_name = "objects"

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_label}"

    def save(self, *args, **kwargs) -> None:
        """Insert the event; an event read from the database cannot be saved again."""
        if (
            not self._state.adding
            or kwargs.get("force_update")
            or kwargs.get("update_fields") is not None
        ):
            raise AuditLogIsAppendOnly("Audit events are never updated.")
        # Without force_insert, a new event given an existing pk would UPDATE that row.
        super().save(*args, **{**kwargs, "force_insert": True})

    def delete(self, *args, **kwargs):
        raise AuditLogIsAppendOnly("Audit events are never deleted.")


class AuditEventSubject(models.Model):
    """A member an event changed without being its target: one row per person a team
    event added to or removed from the team, so that each person's access timeline
    finds it by an index instead of reading every team event's changes.

    Append-only like the events; the ids are kept as they were (no constraint), so a
    removed member's rows stay with the events.
    """

    class Change(models.TextChoices):
        JOINED = "joined", "joined the team"
        LEFT = "left", "left the team"

    event = models.ForeignKey(
        AuditEvent,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="subjects",
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    member = models.ForeignKey(
        Member, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    change = models.CharField(max_length=10, choices=Change.choices)
    created_at = models.DateTimeField(default=now)

    class Meta:
        indexes = [
            models.Index(
                fields=["organization", "member", "-created_at"],
                name="audit_subject_member_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.change} ({self.event_id})"


class DeprovisioningBrake(models.Model):
    """An organization's brake on mass deprovisioning by SCIM, and its row lock.

    Every SCIM request that takes access away locks this row before it counts the
    window (orgadmin.actions.deprovisioning), so two requests never both see room for
    one more. Created on the first such request, with the defaults.
    """

    DEFAULT_SHARE_PERCENT = 20
    DEFAULT_MINIMUM = 10
    # The rolling window the requests are counted over.
    WINDOW = timedelta(minutes=60)

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="deprovisioning_brake"
    )
    share_percent = models.PositiveSmallIntegerField(
        "share (%)",
        default=DEFAULT_SHARE_PERCENT,
        help_text="The brake trips when the requests of the last hour exceed this "
        "share of the members active when the hour began,",
    )
    minimum = models.PositiveIntegerField(
        default=DEFAULT_MINIMUM, help_text="and are at least this many."
    )
    window_started_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set by Resume: requests before it no longer count.",
    )
    tripped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "deprovisioning brake"
        constraints = [
            models.CheckConstraint(
                condition=Q(share_percent__gte=1, share_percent__lte=100),
                name="deprovisioning_brake_share_1_to_100",
            ),
            models.CheckConstraint(
                condition=Q(minimum__gte=1), name="deprovisioning_brake_minimum_1"
            ),
        ]

    def __str__(self) -> str:
        return f"Deprovisioning brake of {self.organization}"

    @property
    def is_tripped(self) -> bool:
        return self.tripped_at is not None

    def window_start(self, at: datetime) -> datetime:
        """Where the rolling window ending at `at` begins: an hour back, or at the
        last Resume when that is later."""
        start = at - self.WINDOW
        if self.window_started_at is not None and self.window_started_at > start:
            return self.window_started_at
        return start

    def trips_at(self, count: int, active_at_start: int) -> bool:
        """Whether `count` requests in a window that began with `active_at_start`
        active members is too many: more than the share, and at least the minimum."""
        return (
            count * 100 > active_at_start * self.share_percent and count >= self.minimum
        )


class DeprovisioningQuerySet(models.QuerySet):
    def for_organization(self, organization: Organization) -> DeprovisioningQuerySet:
        return self.filter(organization=organization)

    def applied(self) -> DeprovisioningQuerySet:
        return self.filter(held_back=False)

    def held_back(self) -> DeprovisioningQuerySet:
        return self.filter(held_back=True)


class Deprovisioning(models.Model):
    """One SCIM request that took a member's access away, or that the brake held back.

    The applied ones are the brake's count; the held-back ones are what the SCIM tab
    lists for the owner to review before Resume. Applied rows older than the window
    are deleted, at most once a window, when a new one comes
    (orgadmin.actions.deprovisioning).
    """

    class Kind(models.TextChoices):
        DEACTIVATION = "deactivation", "Deactivation"
        DELETION = "deletion", "Deletion"

    # Held-back requests stay listed this long after a Resume, for the record.
    KEEP = timedelta(days=30)

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(default=now)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    held_back = models.BooleanField(default=False)
    member_scim_id = models.UUIDField("member's SCIM id")
    member_label = models.CharField(max_length=255)
    token = models.ForeignKey(
        ScimToken, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    token_label = models.CharField(max_length=300)

    objects = DeprovisioningQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["organization", "held_back", "created_at"],
                name="deprovisioning_org_time",
            ),
        ]

    def __str__(self) -> str:
        held = " (held back)" if self.held_back else ""
        return f"{self.get_kind_display()} of {self.member_label}{held}"


class RemovedMemberQuerySet(models.QuerySet):
    def for_organization(self, organization: Organization) -> RemovedMemberQuerySet:
        return self.filter(organization=organization)

    def restorable(self, at: datetime | None = None) -> RemovedMemberQuerySet:
        return self.filter(removed_at__gt=(at or now()) - RemovedMember.KEEP)

    def expired(self, at: datetime | None = None) -> RemovedMemberQuerySet:
        return self.filter(removed_at__lte=(at or now()) - RemovedMember.KEEP)


class RemovedMember(models.Model):
    """A removed member, kept for KEEP so that an owner can restore it.

    The member row itself is deleted at removal, so the person's access ends at once
    and no SCIM read, filter, group or unique constraint can see them; this record
    holds what restoring puts back: the member's fields (its pk and SCIM id
    included), emails, teams and reports.
    """

    KEEP = timedelta(days=30)

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="removed_members"
    )
    member_pk = models.PositiveBigIntegerField(
        help_text="The member's id, given back on restore: the audit log and the "
        "timeline keep pointing at it."
    )
    scim_id = models.UUIDField("SCIM id")
    user_name = models.CharField(max_length=255)
    label = models.CharField(max_length=255)
    removed_at = models.DateTimeField(default=now)
    removed_by = models.CharField(max_length=300, help_text="Who removed the member.")
    # {"fields": {attname: value}, "emails": [...], "team_ids": [...],
    #  "report_ids": [...]}, as orgadmin.actions.removed_members writes it.
    snapshot = models.JSONField(encoder=DjangoJSONEncoder)

    objects = RemovedMemberQuerySet.as_manager()

    class Meta:
        ordering = ["-removed_at", "-pk"]
        indexes = [
            models.Index(
                fields=["organization", "-removed_at"], name="removed_member_org_time"
            ),
            models.Index(fields=["removed_at"], name="removed_member_time"),
        ]

    def __str__(self) -> str:
        return f"{self.label} (removed)"

    @property
    def restorable_until(self) -> datetime:
        return self.removed_at + self.KEEP
