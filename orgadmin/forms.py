"""Forms of the settings UI. They validate input; the actions decide and write."""

from __future__ import annotations

import base64
import binascii
import textwrap
from datetime import UTC, datetime, time, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404
from django.utils import timezone

from orgadmin.access import access_member_by_email
from orgadmin.errors import OrgAdminError
from orgadmin.models import Member

PEM_HEADER = "-----BEGIN CERTIFICATE-----"
PEM_FOOTER = "-----END CERTIFICATE-----"


def add_action_error(form: forms.Form, error: OrgAdminError) -> None:
    """Show an action's refusal next to its field, or above the form when it has none."""
    form.add_error(error.field if error.field in form.fields else None, error.message)


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
    name = forms.CharField(max_length=200)
    restrict_to_claimed_domains = forms.BooleanField(
        label="Only accept people on verified domains",
        required=False,
        help_text="SCIM and SSO may only bring in people whose email is on one of the "
        "organization's verified domains.",
    )


# -------------------------------------------------------------------------------- members


class MemberFilterForm(forms.Form):
    STATUS_CHOICES = [
        ("", "Any status"),
        ("active", "Active"),
        ("inactive", "Deactivated"),
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
        if data["status"]:
            members = members.filter(is_active=data["status"] == "active")
        if data["role"]:
            members = members.filter(role=data["role"])
        if data["source"]:
            members = members.filter(source=data["source"])
        return members


def _roles_for(me: Member) -> list[tuple[str, str]]:
    """Owners grant any role; admins grant admin and member."""
    if me.role == Member.Role.OWNER:
        return list(Member.Role.choices)
    return [c for c in Member.Role.choices if c[0] != Member.Role.OWNER]


class MemberInviteForm(ActionForm):
    email = forms.EmailField()
    full_name = forms.CharField(label="Name", max_length=200, required=False)
    role = forms.ChoiceField(choices=Member.Role.choices, initial=Member.Role.MEMBER)

    def __init__(self, *args, me: Member, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = _roles_for(me)


class MemberRoleForm(ActionForm):
    role = forms.ChoiceField(choices=Member.Role.choices)

    def __init__(self, *args, me: Member, member: Member | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.me = me
        self.member = member
        self.fields["role"].choices = _roles_for(me)

    def clean_role(self):
        role = self.cleaned_data["role"]
        if (
            self.member is not None
            and self.member.role == Member.Role.OWNER
            and self.me.role != Member.Role.OWNER
        ):
            raise ValidationError("Only an owner can change an owner's role.")
        return role


class MemberProfileForm(ActionForm):
    """Directory fields an admin may edit for people who did not arrive by SCIM."""

    display_name = forms.CharField(label="Name", max_length=255, required=False)
    title = forms.CharField(label="Job title", max_length=255, required=False)
    department = forms.CharField(max_length=255, required=False)


# ---------------------------------------------------------------------------------- teams


class TeamForm(ActionForm):
    display_name = forms.CharField(label="Team name", max_length=255)


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
    """Read one or more PEM certificates; a bare base64 body (as in metadata) is accepted."""
    text = (text or "").strip()
    if not text:
        return []
    if text.startswith("<") or "X509Certificate" in text:
        raise ValidationError(
            "This is XML, not a certificate. Paste the certificate (Base64), or enter "
            "the IdP metadata URL instead."
        )
    if PEM_HEADER not in text:
        body = "".join(text.split())
        try:
            base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError(
                "This is not a certificate. Paste it as PEM, starting with "
                f"{PEM_HEADER}."
            ) from None
        text = "\n".join([PEM_HEADER, *textwrap.wrap(body, 64), PEM_FOOTER])
    try:
        certificates = x509.load_pem_x509_certificates(text.encode())
    except ValueError:
        raise ValidationError(
            "This certificate cannot be read. Download the signing certificate "
            "(Base64 / PEM) from your identity provider and paste all of it, "
            f"from {PEM_HEADER} to {PEM_FOOTER}."
        ) from None
    return certificates


class SSOConfigurationForm(ActionForm):
    idp_entity_id = forms.CharField(
        label="IdP entity ID (Issuer)",
        max_length=1024,
        required=False,
        help_text="Entra ID calls it Microsoft Entra Identifier; Okta, Issuer.",
    )
    idp_sso_url = forms.URLField(
        assume_scheme="https",
        label="IdP sign-in URL",
        max_length=1024,
        required=False,
        help_text="Entra ID: Login URL. Okta: Identity Provider Single Sign-On URL.",
    )
    idp_x509_certificates = forms.CharField(
        label="IdP signing certificate",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text="PEM. Paste two certificates during a rotation.",
    )
    idp_metadata_url = forms.URLField(
        assume_scheme="https",
        label="IdP metadata URL",
        max_length=1024,
        required=False,
        help_text="Optional: the federation metadata URL, instead of the fields above.",
    )
    enabled = forms.BooleanField(label="Allow sign-in with SSO", required=False)
    require_sso = forms.BooleanField(
        label="Require SSO",
        required=False,
        help_text="People on verified domains must sign in through the IdP. Owners and "
        "admins keep their password, so a broken IdP cannot lock everyone out.",
    )
    jit_provisioning = forms.BooleanField(
        label="Create members on their first SSO sign-in",
        required=False,
    )
    default_role = forms.ChoiceField(
        label="Role of members created by SSO",
        choices=[c for c in Member.Role.choices if c[0] != Member.Role.OWNER],
    )

    def clean_idp_x509_certificates(self):
        certificates = parse_certificates(self.cleaned_data["idp_x509_certificates"])
        expired = [c for c in certificates if c.not_valid_after_utc <= timezone.now()]
        if expired:
            raise ValidationError(
                "This certificate expired on "
                f"{expired[0].not_valid_after_utc:%d %B %Y}; download the current one "
                "from your identity provider."
            )
        return "".join(c.public_bytes(Encoding.PEM).decode() for c in certificates)

    def clean(self):
        data = super().clean()
        if data.get("enabled") and not data.get("idp_metadata_url"):
            for name in ("idp_entity_id", "idp_sso_url", "idp_x509_certificates"):
                if name in data and not data[name]:
                    self.add_error(
                        name,
                        "Needed to turn SSO on (or enter the IdP metadata URL).",
                    )
        if data.get("require_sso") and not data.get("enabled"):
            self.add_error("require_sso", "Allow sign-in with SSO first.")
        return data


# ----------------------------------------------------------------------------- SCIM tokens


class ScimTokenForm(ActionForm):
    name = forms.CharField(
        max_length=100,
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
    actor = forms.CharField(required=False, max_length=300, label="Actor")
    action = forms.ChoiceField(required=False, label="Action")
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, actions: list[str] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", "Any action")] + [(a, a) for a in actions]

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
