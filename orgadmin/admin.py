"""The Django admin for operators. Every write goes through orgadmin.actions, audited."""

from allauth.account.decorators import secure_admin_login
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from allauth.socialaccount.admin import SocialAppAdmin, SocialTokenAdmin
from allauth.socialaccount.models import SocialApp, SocialToken
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.shortcuts import redirect
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from orgadmin import actions
from orgadmin.audit import Actor
from orgadmin.client_ip import client_ip
from orgadmin.errors import OrgAdminError
from orgadmin.models import (
    AuditEvent,
    ClaimedDomain,
    DeprovisioningBrake,
    Member,
    MemberEmail,
    Organization,
    RemovedMember,
    SAMLAssertionUse,
    ScimRequestLog,
    ScimToken,
    SSOAttempt,
    SSOConfiguration,
    Team,
    User,
)

admin.site.site_header = "orgadmin operations"
admin.site.site_title = "orgadmin operations"


# Operators sign in through allauth (/accounts/login/), with its rate limits and second
# factor, and open the admin only with TOTP set up: they act across every organization.
_django_has_permission = admin.site.has_permission
_allauth_login = secure_admin_login(admin.site.login)


def operator_has_totp(user) -> bool:
    return is_mfa_enabled(user, [Authenticator.Type.TOTP])


def has_permission(request) -> bool:
    return _django_has_permission(request) and operator_has_totp(request.user)


def login(request, extra_context=None):
    """allauth's sign-in for visitors; for staff still without TOTP, its set-up page."""
    user = request.user
    if user.is_active and user.is_staff and not operator_has_totp(user):
        messages.info(request, "Set up an authenticator app first: the admin needs it.")
        return redirect("mfa_activate_totp")
    return _allauth_login(request, extra_context)


admin.site.has_permission = has_permission
admin.site.login = login


def operator(request) -> Actor:
    return Actor.for_operator(request.user, ip_address=client_ip(request))


def run_for_each(modeladmin, request, queryset, action, done: str) -> None:
    """Apply one action per selected row; report refusals instead of failing the batch."""
    succeeded = 0
    for obj in queryset:
        try:
            action(obj, actor=operator(request))
        except OrgAdminError as error:
            modeladmin.message_user(request, f"{obj}: {error}", messages.ERROR)
        else:
            succeeded += 1
    if succeeded:
        modeladmin.message_user(request, f"{done}: {succeeded}.", messages.SUCCESS)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows that only actions may write: operators look, and act through admin actions.

    Django's own delete (the delete button and "Delete selected") is off too: it would
    skip the action's checks and audit event.
    """

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    """A list of an organization's rows, linking to each; changed only through actions."""

    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return self.fields


class MemberInline(ReadOnlyInline):
    model = Member
    fields = ("user_name", "email", "role", "is_active", "source", "created_at")
    ordering = ("user_name",)


class TeamInline(ReadOnlyInline):
    model = Team
    fields = ("display_name", "external_id", "is_scim_managed", "created_at")


class ClaimedDomainInline(ReadOnlyInline):
    model = ClaimedDomain
    fields = (
        "domain",
        "status",
        "verified_at",
        "last_checked_at",
        "last_check_outcome",
    )


class ScimTokenInline(ReadOnlyInline):
    model = ScimToken
    fields = (
        "name",
        "prefix",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    )


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "slug",
        "member_count",
        "restrict_to_claimed_domains",
        "scim_enabled",
        "sso_enabled",
        "created_at",
    )
    list_filter = ("scim_enabled", "sso_enabled", "restrict_to_claimed_domains")
    search_fields = ("name", "slug")
    fields = (
        "name",
        "slug",
        "restrict_to_claimed_domains",
        "scim_enabled",
        "sso_enabled",
        "require_two_factor",
    )
    inlines = [MemberInline, TeamInline, ClaimedDomainInline, ScimTokenInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_total=Count("members"))

    @admin.display(description="members", ordering="member_total")
    def member_count(self, obj):
        return obj.member_total

    def get_readonly_fields(self, request, obj=None):
        return ("slug",) if obj else ()

    def get_inlines(self, request, obj):
        # The inlines list what an organization has; a new one has nothing yet.
        return self.inlines if obj else []

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            settings = {f: form.cleaned_data[f] for f in actions.ORGANIZATION_SETTINGS}
            # obj already carries the form's values; the action diffs against the stored row.
            stored = Organization.objects.get(pk=obj.pk)
            actions.update_organization(stored, actor=operator(request), **settings)
            return
        created = actions.create_organization(
            name=obj.name,
            slug=obj.slug,
            actor=operator(request),
            restrict_to_claimed_domains=obj.restrict_to_claimed_domains,
        )
        if (created.scim_enabled, created.sso_enabled) != (
            obj.scim_enabled,
            obj.sso_enabled,
        ):
            actions.update_organization(
                created,
                actor=operator(request),
                scim_enabled=obj.scim_enabled,
                sso_enabled=obj.sso_enabled,
            )
        obj.pk = created.pk
        obj.created_at = created.created_at


class UniqueEmailMixin:
    """An address taken by another account, ignoring case, is an error on the field.

    The model's constraint is on Lower("email"), which Django reports as a form-wide
    "constraint violated" instead.
    """

    def clean_email(self):
        email = User.objects.normalize_email(self.cleaned_data["email"])
        others = User.objects.exclude(pk=self.instance.pk)
        if others.filter(email__iexact=email).exists():
            raise ValidationError(f"An account with {email} already exists.")
        return email


class AccountChangeForm(UniqueEmailMixin, UserChangeForm):
    pass


class AccountCreationForm(UniqueEmailMixin, AdminUserCreationForm):
    pass


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = AccountChangeForm
    add_form = AccountCreationForm
    ordering = ("email",)
    list_display = ("email", "full_name", "is_staff", "is_active", "date_joined")
    list_filter = ("is_staff", "is_superuser", "is_active")
    search_fields = ("email", "full_name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("full_name",)}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),
    )
    filter_horizontal = ("groups",)
    readonly_fields = ("last_login", "date_joined")

    def has_delete_permission(self, request, obj=None):
        # An account is deactivated (Active off, audited), not deleted: deleting would
        # also drop its sign-in addresses and two-factor devices without an event.
        return False

    def save_model(self, request, obj, form, change):
        if change:
            values = {
                f: form.cleaned_data[f]
                for f in actions.ACCOUNT_FIELDS
                if f in form.cleaned_data
            }
            # obj already carries the form's values; the action diffs against the stored row.
            actions.update_account(obj, actor=operator(request), **values)
            return
        set_password = form.cleaned_data.get("set_usable_password", True)
        created = actions.create_account(
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password1"] if set_password else None,
            actor=operator(request),
        )
        obj.pk = created.pk

    def save_related(self, request, form, formsets, change):
        # save_model wrote the groups too, through update_account.
        pass

    @method_decorator(sensitive_post_parameters())
    def user_change_password(self, request, id, form_url=""):
        """Django's password form, saved through set_account_password as the operator."""
        user = self.get_object(request, unquote(id))
        if (
            request.method != "POST"
            or user is None
            or not self.has_change_permission(request, user)
        ):
            # Django's view shows the form, or answers 404 or 403.
            return super().user_change_password(request, id, form_url)
        form = self.change_password_form(user, request.POST)
        if not form.is_valid() or not (
            form.cleaned_data["set_usable_password"] or "unset-password" in request.POST
        ):
            # Django's view shows the errors, or refuses conflicting buttons.
            return super().user_change_password(request, id, form_url)
        if form.cleaned_data["set_usable_password"]:
            password = form.cleaned_data["password1"]
            done = "Password changed successfully."
        else:
            password = None
            done = "Password-based authentication was disabled."
        actions.set_account_password(user, password=password, actor=operator(request))
        self.log_change(
            request, user, self.construct_change_message(request, form, None)
        )
        self.message_user(request, done, messages.SUCCESS)
        # Changing one's own password keeps one signed in, as Django's view does.
        update_session_auth_hash(request, user)
        return redirect("admin:orgadmin_user_change", user.pk)


class MemberEmailInline(ReadOnlyInline):
    model = MemberEmail
    fields = ("value", "type", "primary")
    show_change_link = False


@admin.register(Member)
class MemberAdmin(ReadOnlyAdmin):
    inlines = [MemberEmailInline]
    list_display = (
        "user_name",
        "organization",
        "role",
        "is_active",
        "source",
        "created_at",
    )
    list_filter = ("role", "is_active", "source", "organization")
    search_fields = ("user_name", "email", "display_name", "external_id", "scim_id")
    list_select_related = ("organization",)
    actions = ["deactivate", "reactivate", "remove"]

    @admin.action(description="Deactivate selected members")
    def deactivate(self, request, queryset):
        run_for_each(self, request, queryset, actions.deactivate_member, "Deactivated")

    @admin.action(description="Reactivate selected members")
    def reactivate(self, request, queryset):
        run_for_each(self, request, queryset, actions.reactivate_member, "Reactivated")

    @admin.action(description="Remove selected members (their accounts stay)")
    def remove(self, request, queryset):
        run_for_each(self, request, queryset, actions.remove_member, "Removed")


@admin.register(Team)
class TeamAdmin(ReadOnlyAdmin):
    list_display = ("display_name", "organization", "member_count", "is_scim_managed")
    list_filter = ("is_scim_managed", "organization")
    search_fields = ("display_name", "external_id", "scim_id")
    list_select_related = ("organization",)
    actions = ["delete_teams"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_total=Count("memberships"))

    @admin.display(description="members", ordering="member_total")
    def member_count(self, obj):
        return obj.member_total

    @admin.action(description="Delete selected teams (their members stay)")
    def delete_teams(self, request, queryset):
        run_for_each(self, request, queryset, actions.delete_team, "Deleted")


@admin.register(ClaimedDomain)
class ClaimedDomainAdmin(ReadOnlyAdmin):
    list_display = (
        "domain",
        "organization",
        "status",
        "verified_by_override",
        "verified_at",
        "last_checked_at",
        "last_check_outcome",
    )
    list_filter = ("status", "verified_by_override", "last_check_outcome")
    search_fields = ("domain", "organization__name", "organization__slug")
    list_select_related = ("organization",)
    exclude = ("verification_token",)
    actions = ["check_now", "mark_verified", "release"]

    @admin.action(description="Check the TXT record now")
    def check_now(self, request, queryset):
        run_for_each(self, request, queryset, actions.check_domain, "Checked")

    @admin.action(description="Mark verified (operator override; also a failing one)")
    def mark_verified(self, request, queryset):
        run_for_each(
            self, request, queryset, actions.mark_domain_verified, "Marked verified"
        )

    @admin.action(description="Release selected domains")
    def release(self, request, queryset):
        run_for_each(self, request, queryset, actions.release_domain, "Released")


@admin.register(SSOConfiguration)
class SSOConfigurationAdmin(ReadOnlyAdmin):
    list_display = (
        "organization",
        "enabled",
        "require_sso",
        "idp_entity_id",
        "updated_at",
    )
    list_filter = ("enabled", "require_sso")
    search_fields = ("organization__name", "idp_entity_id")
    list_select_related = ("organization",)


@admin.register(SSOAttempt)
class SSOAttemptAdmin(ReadOnlyAdmin):
    """Every answer of an IdP at the ACS, and why it was refused: the reference a
    refused person was shown, or their email, finds the attempt."""

    list_display = (
        "created_at",
        "organization",
        "outcome",
        "reason_code",
        "claimed_email",
        "reference",
        "idp_initiated",
    )
    list_filter = ("outcome", "reason_code", "idp_initiated", "organization")
    search_fields = (
        "reference",
        "claimed_email",
        "name_id",
        "organization__name",
        "organization__slug",
    )
    list_select_related = ("organization",)
    ordering = ("-created_at", "-pk")
    date_hierarchy = "created_at"


@admin.register(SAMLAssertionUse)
class SAMLAssertionUseAdmin(ReadOnlyAdmin):
    """Assertion IDs already accepted, so a replay is refused; each is kept until its
    assertion expires."""

    list_display = ("assertion_id", "organization", "expires_at")
    list_filter = ("organization",)
    search_fields = ("assertion_id", "organization__name", "organization__slug")
    list_select_related = ("organization",)
    # No time of acceptance is kept: the latest expiry is, near enough, the newest.
    ordering = ("-expires_at", "-pk")


@admin.register(ScimToken)
class ScimTokenAdmin(ReadOnlyAdmin):
    list_display = (
        "name",
        "prefix",
        "organization",
        "token_status",
        "created_by",
        "created_at",
        "expires_at",
        "last_used_at",
    )
    list_filter = ("organization",)
    search_fields = ("name", "prefix", "organization__name")
    list_select_related = ("organization", "created_by")
    exclude = ("digest",)
    actions = ["revoke"]

    @admin.display(description="status")
    def token_status(self, obj):
        return obj.status

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        run_for_each(self, request, queryset, actions.revoke_scim_token, "Revoked")


class TrippedFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "tripped"

    def lookups(self, request, model_admin):
        return [("yes", "Tripped (deprovisioning paused)"), ("no", "Not tripped")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(tripped_at__isnull=self.value() == "no")
        return queryset


@admin.register(DeprovisioningBrake)
class DeprovisioningBrakeAdmin(ReadOnlyAdmin):
    """Operators see which organizations' brakes tripped; their owners resume them."""

    list_display = ("organization", "tripped_at", "share_percent", "minimum")
    list_filter = (TrippedFilter,)
    search_fields = ("organization__name", "organization__slug")
    list_select_related = ("organization",)
    ordering = ("-tripped_at",)
    actions = ["resume"]

    @admin.action(description="Resume deprovisioning of the selected organizations")
    def resume(self, request, queryset):
        run_for_each(
            self,
            request,
            [brake.organization for brake in queryset],
            actions.resume_deprovisioning,
            "Resumed",
        )


@admin.register(RemovedMember)
class RemovedMemberAdmin(ReadOnlyAdmin):
    list_display = ("label", "user_name", "organization", "removed_at", "removed_by")
    search_fields = ("user_name", "label", "organization__slug")
    list_select_related = ("organization",)
    exclude = ("snapshot",)
    actions = ["restore"]

    @admin.action(description="Restore the selected members")
    def restore(self, request, queryset):
        run_for_each(self, request, queryset, actions.restore_member, "Restored")


@admin.register(ScimRequestLog)
class ScimRequestLogAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "organization",
        "method",
        "path",
        "status",
        "duration_ms",
    )
    list_filter = ("status", "method")
    search_fields = ("path", "organization__slug")
    list_select_related = ("organization",)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "organization_slug",
        "actor_label",
        "action",
        "target_label",
    )
    list_filter = ("action", "actor_type")
    search_fields = ("actor_label", "action", "target_label", "organization_slug")
    date_hierarchy = "created_at"


# allauth's two-factor devices: who has which, never the TOTP secret or the recovery-code
# seed its admin shows in `data`. Read-only, as a device is the person's to add or remove.
admin.site.unregister(Authenticator)


@admin.register(Authenticator)
class AuthenticatorAdmin(ReadOnlyAdmin):
    list_display = ("user", "type", "created_at", "last_used_at")
    list_filter = ("type",)
    search_fields = ("user__email",)
    list_select_related = ("user",)
    fields = ("user", "type", "created_at", "last_used_at")
    readonly_fields = fields


class HiddenUnlessUsed:
    """Off the admin index while the table is empty; its pages stay at their URLs.

    Social apps (orgadmin's SAML settings are SSOConfiguration rows), OAuth tokens (unused
    with SAML) and Django's groups (roles come from memberships) are usually empty.
    """

    def has_module_permission(self, request):
        return (
            super().has_module_permission(request)
            and self.model._default_manager.exists()
        )


for model, base in (
    (SocialApp, SocialAppAdmin),
    (SocialToken, SocialTokenAdmin),
    (Group, DjangoGroupAdmin),
):
    admin.site.unregister(model)
    admin.site.register(model, type(base.__name__, (HiddenUnlessUsed, base), {}))
