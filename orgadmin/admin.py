"""The Django admin for operators. Every write goes through orgadmin.actions, audited."""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html

from orgadmin import actions
from orgadmin.audit import Actor
from orgadmin.errors import OrgAdminError
from orgadmin.models import (
    AuditEvent,
    ClaimedDomain,
    Member,
    MemberEmail,
    Organization,
    ScimRequestLog,
    ScimToken,
    SSOConfiguration,
    Team,
    User,
)

admin.site.site_header = "orgadmin operations"
admin.site.site_title = "orgadmin operations"


def operator(request) -> Actor:
    return Actor.for_operator(request.user, ip_address=request.META.get("REMOTE_ADDR"))


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


def admin_link(obj, label=None):
    if obj is None:
        return "-"
    url = reverse(
        f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk]
    )
    return format_html('<a href="{}">{}</a>', url, label or obj)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows that only actions may write: operators look, and act through admin actions."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
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


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
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
    actions = ["deactivate", "reactivate"]

    @admin.action(description="Deactivate selected members")
    def deactivate(self, request, queryset):
        run_for_each(self, request, queryset, actions.deactivate_member, "Deactivated")

    @admin.action(description="Reactivate selected members")
    def reactivate(self, request, queryset):
        run_for_each(self, request, queryset, actions.reactivate_member, "Reactivated")


@admin.register(Team)
class TeamAdmin(ReadOnlyAdmin):
    list_display = ("display_name", "organization", "member_count", "is_scim_managed")
    list_filter = ("is_scim_managed", "organization")
    search_fields = ("display_name", "external_id", "scim_id")
    list_select_related = ("organization",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_total=Count("memberships"))

    @admin.display(description="members", ordering="member_total")
    def member_count(self, obj):
        return obj.member_total


@admin.register(ClaimedDomain)
class ClaimedDomainAdmin(ReadOnlyAdmin):
    list_display = (
        "domain",
        "organization",
        "status",
        "verified_at",
        "last_checked_at",
        "last_check_outcome",
    )
    list_filter = ("status", "last_check_outcome")
    search_fields = ("domain", "organization__name", "organization__slug")
    list_select_related = ("organization",)
    exclude = ("verification_token",)
    actions = ["check_now", "mark_verified", "release"]

    @admin.action(description="Check the TXT record now")
    def check_now(self, request, queryset):
        run_for_each(self, request, queryset, actions.check_domain, "Checked")

    @admin.action(description="Mark verified (operator override)")
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

    def has_delete_permission(self, request, obj=None):
        return False


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

    def has_delete_permission(self, request, obj=None):
        return False
