"""Forms of the settings UI. They validate input; the actions decide and write."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from allauth.account.forms import LoginForm
from cryptography import x509
from django import forms
from django.contrib.auth.forms import SetPasswordMixin
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404
from django.utils import timezone

from orgadmin import audit_text, saml, saml_metadata, saml_policy
from orgadmin.access import access_member_by_email
from orgadmin.errors import OrgAdminError
from orgadmin.models import (
    AuditEvent,
    Member,
    Organization,
    ScimToken,
    SSOConfiguration,
    Team,
    User,
)


def add_action_error(form: forms.Form, error: OrgAdminError) -> None:
    """Show an action's refusal next to its field, or above the form when it has none."""
    form.add_error(error.field if error.field in form.fields else None, error.message)


def column_length(model, field_name: str) -> int:
    """The max_length of the column a form field ends up in, so that the form refuses
    what PostgreSQL would (SQLite stores any length)."""
    return model._meta.get_field(field_name).max_length


class ActionForm(forms.Form):
    """A form whose valid data goes to one action; the action's refusal is a form error.

    Views then read `if form.submit(action, obj, actor=...):` and stay a few lines long.
    """

    result = None

    def submit(self, action, *args, **kwargs) -> bool:
        """Validate, then call `action(*args, **self.action_kwargs(), **kwargs)`."""
        if not self.is_valid():
            return False
        try:
            self.result = action(*args, **self.action_kwargs(), **kwargs)
        except OrgAdminError as error:
            add_action_error(self, error)
            return False
        return True

    def action_kwargs(self) -> dict:
        return self.cleaned_data

    @classmethod
    def initial_from(cls, obj) -> dict:
        """The form's fields, read from a model instance."""
        return {name: getattr(obj, name) for name in cls.base_fields}


# --------------------------------------------------------------------------- organization


class OrganizationForm(ActionForm):
    name = forms.CharField(max_length=column_length(Organization, "name"))
    restrict_to_claimed_domains = forms.BooleanField(
        label="Only accept people on verified domains",
        required=False,
        help_text="SCIM and SSO may only bring in people whose email is on one of the "
        "organization's verified domains.",
    )
    require_two_factor = forms.BooleanField(
        label="Require two-factor authentication",
        required=False,
        help_text="Everyone who signs in with a password must set up an authenticator "
        "app at their next sign-in. People who sign in with SSO are left to your "
        "identity provider's rules. Only owners change this.",
    )

    def __init__(self, *args, me: Member | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if me is None or me.role != Member.Role.OWNER:
            del self.fields["require_two_factor"]


# -------------------------------------------------------------------------------- members


class MemberFilterForm(forms.Form):
    STATUS_CHOICES = [
        ("", "Any status"),
        ("active", "Active"),
        ("inactive", "Deactivated"),
        ("invited", "Invited, not accepted yet"),
    ]

    q = forms.CharField(label="Search", required=False, max_length=200)
    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False)
    role = forms.ChoiceField(
        choices=[("", "Any role"), *Member.Role.choices], required=False
    )
    source = forms.ChoiceField(
        label="Arrived by",
        choices=[("", "Any way"), *Member.Source.choices],
        required=False,
    )
    two_factor = forms.ChoiceField(
        label="Two-factor",
        choices=[("", "Any"), ("on", "Set up"), ("off", "Not set up")],
        required=False,
    )

    def filter(self, members):
        if not self.is_valid():
            return members
        data = self.cleaned_data
        if data["q"]:
            q = data["q"].strip()
            members = members.filter(
                Q(email__icontains=q)
                | Q(user_name__icontains=q)
                | Q(display_name__icontains=q)
            )
        if data["status"] == "invited":
            members = members.invited()
        elif data["status"]:
            members = members.filter(is_active=data["status"] == "active")
        if data["role"]:
            members = members.filter(role=data["role"])
        if data["source"]:
            members = members.filter(source=data["source"])
        if data["two_factor"]:
            # Annotated by the view (has_two_factor): an authenticator app set up.
            members = members.filter(has_two_factor=data["two_factor"] == "on")
        return members


def _roles_for(me: Member) -> list[tuple[str, str]]:
    """Owners grant any role; admins grant admin and member."""
    if me.role == Member.Role.OWNER:
        return list(Member.Role.choices)
    return [c for c in Member.Role.choices if c[0] != Member.Role.OWNER]


class MemberInviteForm(ActionForm):
    email = forms.EmailField(max_length=column_length(Member, "email"))
    full_name = forms.CharField(
        label="Name", max_length=column_length(User, "full_name"), required=False
    )
    role = forms.ChoiceField(choices=Member.Role.choices, initial=Member.Role.MEMBER)
    confirm_outside_domains = forms.BooleanField(
        label="Invite this address anyway", required=False
    )

    def __init__(self, *args, me: Member, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = me.organization
        self.fields["role"].choices = _roles_for(me)
        # Shown once an address outside the verified domains needs confirming.
        self.needs_confirmation = bool(self.data.get("confirm_outside_domains"))

    def clean(self):
        data = super().clean()
        email = data.get("email") or ""
        domain = email.rpartition("@")[2].lower()
        if (
            email
            and self.organization.restrict_to_claimed_domains
            and domain not in self.organization.verified_domain_names()
            and not data.get("confirm_outside_domains")
        ):
            self.needs_confirmation = True
            self.add_error(
                "confirm_outside_domains",
                f"{domain} is not one of {self.organization.name}'s verified domains, "
                "and “Only accept people on verified domains” is on: SCIM and SSO "
                "would refuse this address. An invitation still works, because the "
                "person proves the mailbox by following its link. Tick the box to "
                "invite them anyway.",
            )
        return data

    def action_kwargs(self) -> dict:
        return {
            key: value
            for key, value in self.cleaned_data.items()
            if key != "confirm_outside_domains"
        }


class InvitationPasswordForm(SetPasswordMixin, ActionForm):
    """The password of the account an invitation creates."""

    password1, password2 = SetPasswordMixin.create_password_fields(
        label2="Password (again)"
    )

    def __init__(self, *args, email: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self):
        self.validate_passwords()
        self.validate_password_for_user(User(email=self.email))
        return super().clean()

    def action_kwargs(self) -> dict:
        return {"password": self.cleaned_data["password1"]}


class MemberRoleForm(ActionForm):
    role = forms.ChoiceField(choices=Member.Role.choices)

    def __init__(self, *args, me: Member, member: Member | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.me = me
        self.member = member
        choices = _roles_for(me)
        if member is not None and member.role != Member.Role.OWNER:
            # A new owner goes through the ownership page, which asks to confirm.
            choices = [c for c in choices if c[0] != Member.Role.OWNER]
        self.fields["role"].choices = choices

    def clean_role(self):
        role = self.cleaned_data["role"]
        if (
            self.member is not None
            and self.member.role == Member.Role.OWNER
            and self.me.role != Member.Role.OWNER
        ):
            raise ValidationError("Only an owner can change an owner's role.")
        return role


class OwnershipForm(ActionForm):
    """The confirmation of a new owner: hand over ownership, or share it."""

    TRANSFER = "transfer"
    ADD = "add"

    change = forms.ChoiceField(
        choices=[
            (TRANSFER, "Transfer ownership: they become owner, you become admin"),
            (ADD, "Add them as another owner: you stay owner"),
        ],
        widget=forms.RadioSelect,
        initial=TRANSFER,
    )

    def action_kwargs(self) -> dict:
        return {}


class MemberProfileForm(ActionForm):
    """Directory fields an admin may edit for people who did not arrive by SCIM."""

    display_name = forms.CharField(
        label="Name", max_length=column_length(Member, "display_name"), required=False
    )
    title = forms.CharField(
        label="Job title", max_length=column_length(Member, "title"), required=False
    )
    department = forms.CharField(
        max_length=column_length(Member, "department"), required=False
    )


# ---------------------------------------------------------------------------------- teams


class TeamForm(ActionForm):
    display_name = forms.CharField(
        label="Team name", max_length=column_length(Team, "display_name")
    )


class TeamRoleForm(ActionForm):
    grants_role = forms.ChoiceField(
        label="Role its members get",
        choices=[("", "No role: membership only"), (Member.Role.ADMIN, "Admin")],
        required=False,
        help_text="Members of this IdP group become admins while they are in it, and "
        "go back to member when the IdP removes them. Owners keep their role; a role "
        "given by hand is never taken back.",
    )


class TeamMemberAddForm(ActionForm):
    email = forms.EmailField(
        label="Member's email", help_text="Someone already in the organization."
    )

    def __init__(self, *args, organization=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = organization
        self.member = None

    def clean_email(self):
        email = self.cleaned_data["email"]
        try:
            self.member = access_member_by_email(self.organization, email)
        except Http404:
            raise ValidationError(
                f"{email} is not a member of this organization: invite them first."
            ) from None
        return email

    def action_kwargs(self) -> dict:
        return {"member_ids": [self.member.pk]}


# -------------------------------------------------------------------------------- domains


class DomainForm(ActionForm):
    domain = forms.CharField(
        max_length=300,
        help_text="Your company's email domain, such as example.com.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


# ------------------------------------------------------------------------------------ SSO


def parse_certificates(text: str) -> list[x509.Certificate]:
    """Read one or more PEM certificates, or raise ValidationError saying why not."""
    try:
        return saml_metadata.parse_certificates(text)
    except saml_metadata.MetadataError as error:
        raise ValidationError(str(error)) from None


class SSOConfigurationForm(ActionForm):
    """The IdP settings three ways (metadata URL, metadata XML, fields), and sign-in."""

    METADATA_FILE_MAX_BYTES = saml_metadata.METADATA_MAX_BYTES

    idp_metadata_url = forms.URLField(
        assume_scheme="https",
        label="IdP metadata URL",
        max_length=column_length(SSOConfiguration, "idp_metadata_url"),
        required=False,
        help_text="Entra ID: App Federation Metadata Url. Okta: Metadata URL. Read on "
        "save, then every night, so that the IdP's next certificate comes in by itself.",
    )
    metadata_file = forms.FileField(
        label="Or upload the metadata XML",
        required=False,
        help_text="Entra ID: Federation Metadata XML. Okta: Identity Provider metadata.",
    )
    idp_metadata_xml = forms.CharField(
        label="Or paste the metadata XML",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
    )
    idp_entity_id = forms.CharField(
        label="IdP entity ID (Issuer)",
        max_length=column_length(SSOConfiguration, "idp_entity_id"),
        required=False,
        help_text="Entra ID calls it Microsoft Entra Identifier; Okta, Issuer.",
    )
    idp_sso_url = forms.URLField(
        assume_scheme="https",
        label="IdP sign-in URL",
        max_length=column_length(SSOConfiguration, "idp_sso_url"),
        required=False,
        help_text="Entra ID: Login URL. Okta: Identity Provider Single Sign-On URL.",
    )
    idp_x509_certificates = forms.CharField(
        label="IdP signing certificates",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text="PEM. Up to 5: keep the old and the new one during a rotation.",
    )
    certificate_file = forms.FileField(
        label="Or upload a certificate (.cer)",
        required=False,
        help_text="Entra ID: Certificate (Base64) or (Raw). Added to the ones above.",
    )
    enabled = forms.BooleanField(label="Allow sign-in with SSO", required=False)
    confirm_untested = forms.BooleanField(
        label="Turn SSO on without a successful Test SSO",
        required=False,
    )
    require_sso = forms.BooleanField(
        label="Require SSO",
        required=False,
        help_text="People on verified domains must sign in through the IdP. Owners and "
        "admins keep their password together with a second factor, and recovery "
        "codes, so a broken IdP cannot lock everyone out.",
    )
    jit_provisioning = forms.BooleanField(
        label="Create members on their first SSO sign-in",
        required=False,
        help_text="Off: only people already invited or provisioned by SCIM get in.",
    )
    default_role = forms.ChoiceField(
        label="Role of members created by SSO",
        choices=[c for c in Member.Role.choices if c[0] != Member.Role.OWNER],
    )
    allow_idp_initiated = forms.BooleanField(
        label="Allow IdP-initiated sign-in",
        required=False,
        help_text="Accept sign-ins started from the IdP's app launcher (My Apps, the "
        "Okta dashboard). Off, people start here and replayed responses are easier "
        "to refuse.",
    )

    def __init__(self, *args, configuration=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.configuration = configuration

    @classmethod
    def initial_from(cls, obj) -> dict:
        return {
            name: getattr(obj, name)
            for name in cls.base_fields
            if name not in ("metadata_file", "certificate_file", "confirm_untested")
        }

    def clean_idp_x509_certificates(self):
        certificates = parse_certificates(self.cleaned_data["idp_x509_certificates"])
        expired = [c for c in certificates if c.not_valid_after_utc <= timezone.now()]
        if expired:
            raise ValidationError(
                "This certificate expired on "
                f"{expired[0].not_valid_after_utc:%d %B %Y}; download the current one "
                "from your identity provider."
            )
        return saml_metadata.as_pem(certificates)

    def clean_metadata_file(self):
        upload = self.cleaned_data.get("metadata_file")
        if not upload:
            return None
        if upload.size > self.METADATA_FILE_MAX_BYTES:
            raise ValidationError("This file is too large to be IdP metadata.")
        xml = upload.read()
        try:
            saml_metadata.parse_metadata(xml)
        except saml_metadata.MetadataError as error:
            raise ValidationError(str(error)) from None
        return xml.decode("utf-8", errors="replace")

    def clean_idp_metadata_xml(self):
        xml = self.cleaned_data["idp_metadata_xml"].strip()
        if xml and xml != (self.initial.get("idp_metadata_xml") or "").strip():
            try:
                saml_metadata.parse_metadata(xml)
            except saml_metadata.MetadataError as error:
                raise ValidationError(str(error)) from None
        return xml

    def clean_certificate_file(self):
        upload = self.cleaned_data.get("certificate_file")
        if not upload:
            return None
        try:
            certificates = saml_metadata.read_certificate_file(upload.read(100_000))
        except saml_metadata.MetadataError as error:
            raise ValidationError(str(error)) from None
        return saml_metadata.as_pem(certificates)

    def clean(self):
        data = super().clean()
        if data.get("metadata_file"):
            data["idp_metadata_xml"] = data["metadata_file"]
        if data.get("certificate_file") and "idp_x509_certificates" in data:
            data["idp_x509_certificates"] += data["certificate_file"]
        from_metadata = data.get("idp_metadata_url") or data.get("idp_metadata_xml")
        if data.get("enabled") and not from_metadata:
            for name in ("idp_entity_id", "idp_sso_url", "idp_x509_certificates"):
                if name in data and not data[name]:
                    self.add_error(
                        name,
                        "Needed to turn SSO on (or give the IdP metadata instead).",
                    )
        configuration = self.configuration
        turning_on = data.get("enabled") and not (
            configuration and configuration.enabled
        )
        untested = not (configuration and configuration.tested_at)
        if turning_on and untested and not data.get("confirm_untested"):
            self.add_error(
                "enabled",
                "No Test SSO has succeeded yet: save, run Test SSO, then turn SSO on. "
                "Or tick “Turn SSO on without a successful Test SSO”.",
            )
        if data.get("require_sso") and not data.get("enabled"):
            self.add_error("require_sso", "Allow sign-in with SSO first.")
        return data

    def action_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        for name in ("metadata_file", "certificate_file", "confirm_untested"):
            data.pop(name, None)
        return {**data, "fetch_metadata_url": True}


class SSOEmailForm(forms.Form):
    """The work email of "Sign in with SSO": its verified domain names the organization."""

    email = forms.EmailField(
        label="Work email",
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )

    def clean(self):
        data = super().clean()
        email = data.get("email")
        if email:
            configuration = saml.configuration_for_email(email)
            if configuration is None:
                self.add_error(
                    "email",
                    f"No organization signs in people of {email.rpartition('@')[2]} "
                    "through SSO. Sign in with your password, or ask your admin.",
                )
            else:
                data["organization"] = configuration.organization
        return data


class PasswordLoginForm(LoginForm):
    """allauth's sign-in form, which sends people whose organization requires SSO there.

    Checked only after the password is right, so the form tells nobody else which
    addresses must use SSO.
    """

    def clean(self):
        data = super().clean()
        if self.user is not None:
            configuration = saml_policy.sso_required_for(self.user)
            if configuration is not None:
                self.user = None
                raise ValidationError(
                    f"{configuration.organization.name} requires single sign-on: use "
                    "“Sign in with SSO” below.",
                    code="sso_required",
                )
        return data


# ----------------------------------------------------------------------------- SCIM tokens


class ScimTokenForm(ActionForm):
    name = forms.CharField(
        max_length=column_length(ScimToken, "name"),
        help_text="Where it is used, such as Entra ID production.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    expires_at = forms.DateField(
        label="Expires on",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Optional. Leave empty for a token that does not expire; you will be "
        "warned 14 days before an expiry.",
    )

    def clean_expires_at(self):
        day = self.cleaned_data["expires_at"]
        return datetime.combine(day, time.min, tzinfo=UTC) if day else None


# ------------------------------------------------------------------------------ audit log


class AuditFilterForm(forms.Form):
    actor = forms.CharField(
        required=False,
        max_length=column_length(AuditEvent, "actor_label"),
        label="Actor",
    )
    action = forms.ChoiceField(required=False, label="Action")
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, actions: list[str] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", "Any action")] + sorted(
            ((a, audit_text.action_label(a)) for a in actions), key=lambda c: c[1]
        )

    def clean_date_to(self):
        day = self.cleaned_data["date_to"]
        if day == date.max:
            # The filter ends at the start of the next day, which does not exist.
            raise ValidationError(f"Enter a date before {date.max:%d %B %Y}.")
        return day

    def clean(self):
        data = super().clean()
        date_from, date_to = data.get("date_from"), data.get("date_to")
        if date_from and date_to and date_from > date_to:
            self.add_error(
                "date_to",
                "Must be on or after the From date "
                f"({date_from.day} {date_from:%B %Y}).",
            )
        return data

    def filter(self, events):
        """The matching events: all without filters, none while a filter is invalid
        (its error says why), so that a typo never passes for "every event"."""
        if not self.is_bound:
            return events
        if not self.is_valid():
            return events.none()
        data = self.cleaned_data
        if data["actor"]:
            events = events.filter(actor_label__icontains=data["actor"].strip())
        if data["action"]:
            events = events.filter(action=data["action"])
        if data["date_from"]:
            events = events.filter(
                created_at__gte=datetime.combine(
                    data["date_from"], time.min, tzinfo=UTC
                )
            )
        if data["date_to"]:
            events = events.filter(
                created_at__lt=datetime.combine(
                    data["date_to"] + timedelta(days=1), time.min, tzinfo=UTC
                )
            )
        return events

    def errors_as_text(self) -> str:
        """One line per refused filter, for the CSV export's 400 answer."""
        lines = [
            f"{self.fields[name].label if name in self.fields else 'Filters'}: "
            + " ".join(errors)
            for name, errors in self.errors.items()
        ]
        return "The audit log filters are not valid:\n" + "\n".join(lines) + "\n"


# ----------------------------------------------------------------- deprovisioning brake


class DeprovisioningBrakeForm(ActionForm):
    share_percent = forms.IntegerField(
        label="Share of active members (%)",
        min_value=1,
        max_value=100,
        help_text="The brake trips when the identity provider deactivates or deletes "
        "more than this share of the members active an hour earlier...",
    )
    minimum = forms.IntegerField(
        label="Minimum",
        min_value=1,
        max_value=1_000_000,
        help_text="...and at least this many of them within the hour.",
    )
