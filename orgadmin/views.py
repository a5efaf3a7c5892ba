"""The organization settings UI: thin views over orgadmin.access and orgadmin.actions."""

from __future__ import annotations

import csv
import json
from itertools import chain

from allauth.account.decorators import reauthentication_required
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from orgadmin import actions, forms
from orgadmin.access import (
    access_audit_events,
    access_claimed_domain,
    access_member,
    access_member_by_email,
    access_organization,
    access_scim_token,
    access_team,
    organizations_for_user,
)
from orgadmin.audit import Actor
from orgadmin.errors import OrgAdminError
from orgadmin.health import provisioning_health
from orgadmin.models import ClaimedDomain, Member, ScimToken, SSOConfiguration, Team

MEMBERS_PER_PAGE = 25
TEAMS_PER_PAGE = 50
EVENTS_PER_PAGE = 50
# A CSV export streams at most this many of the newest matching events; narrow the
# filters (dates) for older ones.
AUDIT_EXPORT_LIMIT = 100_000
# The new token's secret waits in the session for exactly one display (then it is popped),
# so that reloading the page, or the back button, never shows it again.
NEW_TOKEN_SESSION_KEY = "orgadmin_new_scim_token"


def actor_for(request) -> Actor:
    return Actor.for_user(request.user, ip_address=request.META.get("REMOTE_ADDR"))


def render_settings(request, template, organization, me, section, **context):
    """Render a settings page with the navigation and the failing-domain banner."""
    failing = ClaimedDomain.objects.none()
    if me.is_administrator:
        failing = _failing_domains().filter(organization=organization)
    context.update(
        organization=organization,
        me=me,
        section=section,
        failing_domains=list(failing),
    )
    return render(request, template, context)


def _failing_domains():
    if hasattr(ClaimedDomain.objects, "failing"):
        return ClaimedDomain.objects.failing()
    return ClaimedDomain.objects.filter(status=ClaimedDomain.Status.FAILING)


def _back(request, default: str):
    """Return to the page the form came from (a filtered list), when it is ours."""
    target = request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(default)


# ----------------------------------------------------------------------------------- home


def home(request):
    """The start page: the person's organizations, or an invitation to sign in."""
    organizations = organizations_for_user(request.user).annotate(
        member_count=Count("members", distinct=True)
    )
    return render(request, "orgadmin/home.html", {"organizations": organizations})


@login_required
def organization_general(request, slug):
    organization, me = access_organization(request.user, slug)
    initial = {
        "name": organization.name,
        "restrict_to_claimed_domains": organization.restrict_to_claimed_domains,
    }
    form = forms.OrganizationForm(request.POST or None, initial=initial)
    if request.method == "POST" and me.is_administrator and form.is_valid():
        try:
            actions.update_organization(
                organization, actor=actor_for(request), **form.cleaned_data
            )
        except OrgAdminError as error:
            forms.add_action_error(form, error)
        else:
            messages.success(request, "Organization settings saved.")
            return redirect("orgadmin:organization-general", slug=slug)
    return render_settings(
        request,
        "orgadmin/organization_general.html",
        organization,
        me,
        "general",
        form=form,
    )


# -------------------------------------------------------------------------------- members


@login_required
def member_list(request, slug):
    organization, me = access_organization(request.user, slug)
    filters = forms.MemberFilterForm(request.GET or None)
    members = filters.filter(
        Member.objects.for_organization(organization).annotate(
            team_count=Count("team_memberships")
        )
    ).order_by("email", "pk")
    page = Paginator(members, MEMBERS_PER_PAGE).get_page(request.GET.get("page"))
    return render_settings(
        request,
        "orgadmin/member_list.html",
        organization,
        me,
        "members",
        filters=filters,
        page=page,
        filtered=filters.has_changed(),
    )


@login_required
def member_invite(request, slug):
    organization, me = access_organization(request.user, slug, administrators_only=True)
    form = forms.MemberInviteForm(request.POST or None, me=me)
    if request.method == "POST" and form.is_valid():
        try:
            member = actions.add_member(
                organization, actor=actor_for(request), **form.cleaned_data
            )
        except OrgAdminError as error:
            forms.add_action_error(form, error)
        else:
            messages.success(request, f"{member.email} was added.")
            return redirect("orgadmin:member-list", slug=slug)
    return render_settings(
        request, "orgadmin/member_invite.html", organization, me, "members", form=form
    )


@login_required
def member_detail(request, slug, member_id):
    organization, me = access_organization(request.user, slug)
    member = access_member(organization, member_id)
    profile = {f: getattr(member, f) for f in forms.MemberProfileForm.base_fields}
    return render_settings(
        request,
        "orgadmin/member_detail.html",
        organization,
        me,
        "members",
        member=member,
        teams=member.teams.order_by("display_name"),
        emails=member.email_addresses.all(),
        role_form=forms.MemberRoleForm(initial={"role": member.role}, me=me),
        profile_form=forms.MemberProfileForm(initial=profile),
    )


@login_required
@require_POST
def member_role(request, slug, member_id):
    organization, me = access_organization(request.user, slug, administrators_only=True)
    member = access_member(organization, member_id)
    form = forms.MemberRoleForm(request.POST, me=me, member=member)
    try:
        if not form.is_valid():
            raise OrgAdminError(form.errors["role"][0])
        actions.change_member_role(
            member, role=form.cleaned_data["role"], actor=actor_for(request)
        )
    except OrgAdminError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"{member.label} is now {member.get_role_display()}.")
    return redirect("orgadmin:member-detail", slug=slug, member_id=member.pk)


@login_required
def member_profile(request, slug, member_id):
    organization, me = access_organization(request.user, slug, administrators_only=True)
    member = access_member(organization, member_id)
    form = forms.MemberProfileForm(request.POST or None)
    if request.method == "POST" and not member.is_scim_managed and form.is_valid():
        try:
            actions.update_member(
                member, attributes=form.cleaned_data, actor=actor_for(request)
            )
        except OrgAdminError as error:
            forms.add_action_error(form, error)
        else:
            messages.success(request, "Profile saved.")
    return redirect("orgadmin:member-detail", slug=slug, member_id=member.pk)


def _member_state_view(action, done: str):
    @login_required
    @require_POST
    def view(request, slug, member_id):
        organization, _ = access_organization(
            request.user, slug, administrators_only=True
        )
        member = access_member(organization, member_id)
        try:
            action(member, actor=actor_for(request))
        except OrgAdminError as error:
            messages.error(request, f"{member.label}: {error.message}")
        else:
            messages.success(request, f"{member.label} {done}.")
        return _back(request, reverse("orgadmin:member-detail", args=[slug, member.pk]))

    return view


member_deactivate = _member_state_view(
    actions.deactivate_member, "was deactivated: they can no longer sign in here"
)
member_reactivate = _member_state_view(actions.reactivate_member, "was reactivated")


# ---------------------------------------------------------------------------------- teams


@login_required
def team_list(request, slug):
    organization, me = access_organization(request.user, slug)
    teams = (
        Team.objects.for_organization(organization)
        .annotate(member_count=Count("memberships"))
        .order_by("display_name", "pk")
    )
    page = Paginator(teams, TEAMS_PER_PAGE).get_page(request.GET.get("page"))
    return render_settings(
        request, "orgadmin/team_list.html", organization, me, "teams", page=page
    )


@login_required
def team_create(request, slug):
    organization, me = access_organization(request.user, slug, administrators_only=True)
    form = forms.TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            team = actions.create_team(
                organization, actor=actor_for(request), **form.cleaned_data
            )
        except OrgAdminError as error:
            forms.add_action_error(form, error)
        else:
            messages.success(request, f"Team {team.display_name} was created.")
            return redirect("orgadmin:team-detail", slug=slug, team_id=team.pk)
    return render_settings(
        request, "orgadmin/team_create.html", organization, me, "teams", form=form
    )


@login_required
def team_detail(request, slug, team_id):
    organization, me = access_organization(request.user, slug)
    team = access_team(organization, team_id)
    members = Member.objects.filter(team_memberships__team=team).order_by("email")
    page = Paginator(members, MEMBERS_PER_PAGE).get_page(request.GET.get("page"))
    rename_form = forms.TeamForm(initial={"display_name": team.display_name})
    return render_settings(
        request,
        "orgadmin/team_detail.html",
        organization,
        me,
        "teams",
        team=team,
        page=page,
        rename_form=rename_form,
        add_form=forms.TeamMemberAddForm(),
    )


def _unlocked_team(request, slug, team_id):
    organization, _ = access_organization(request.user, slug, administrators_only=True)
    team = access_team(organization, team_id)
    if team.is_scim_managed:
        messages.error(
            request,
            f"{team.display_name} is managed by your identity provider through SCIM: "
            "change it there.",
        )
        return organization, None
    return organization, team


@login_required
@require_POST
def team_update(request, slug, team_id):
    organization, team = _unlocked_team(request, slug, team_id)
    if team is not None:
        try:
            _apply_team_change(request, organization, team)
        except OrgAdminError as error:
            messages.error(request, error.message)
    return redirect("orgadmin:team-detail", slug=slug, team_id=team_id)


def _apply_team_change(request, organization, team):
    """One of three small forms posted to team_update: rename, add or remove a member."""
    actor = actor_for(request)
    if "display_name" in request.POST:
        form = forms.TeamForm(request.POST)
        if not form.is_valid():
            raise OrgAdminError(form.errors["display_name"][0])
        actions.update_team(
            team, display_name=form.cleaned_data["display_name"], actor=actor
        )
        messages.success(request, "Team renamed.")
    elif "email" in request.POST:
        form = forms.TeamMemberAddForm(request.POST)
        if not form.is_valid():
            raise OrgAdminError(form.errors["email"][0])
        try:
            member = access_member_by_email(organization, form.cleaned_data["email"])
        except Http404:
            raise OrgAdminError(
                f"{form.cleaned_data['email']} is not a member of this organization: "
                "invite them first."
            ) from None
        actions.add_team_members(team, [member.pk], actor=actor)
        messages.success(request, f"{member.label} was added to the team.")
    elif "remove_member" in request.POST:
        member = access_member(organization, request.POST["remove_member"])
        actions.remove_team_members(team, [member.pk], actor=actor)
        messages.success(request, f"{member.label} was removed from the team.")


@login_required
@require_POST
def team_delete(request, slug, team_id):
    _, team = _unlocked_team(request, slug, team_id)
    if team is None:
        return redirect("orgadmin:team-detail", slug=slug, team_id=team_id)
    actions.delete_team(team, actor=actor_for(request))
    messages.success(
        request, f"Team {team.display_name} was deleted; its members stay."
    )
    return redirect("orgadmin:team-list", slug=slug)


# ----------------------------------------------------------------------- access security


@login_required
def access_security(request, slug):
    access_organization(request.user, slug, administrators_only=True)
    return redirect("orgadmin:domain-list", slug=slug)


@login_required
def domain_list(request, slug):
    organization, me = access_organization(request.user, slug, administrators_only=True)
    form = forms.DomainForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            claimed = actions.claim_domain(
                organization,
                domain=form.cleaned_data["domain"],
                actor=actor_for(request),
            )
        except OrgAdminError as error:
            forms.add_action_error(form, error)
        else:
            messages.success(
                request, f"{claimed.domain} was added: now create its TXT record."
            )
            return redirect(
                f"{reverse('orgadmin:domain-list', args=[slug])}#domain-{claimed.pk}"
            )
    return render_settings(
        request,
        "orgadmin/domain_list.html",
        organization,
        me,
        "access",
        tab="domains",
        form=form,
        domains=ClaimedDomain.objects.filter(organization=organization),
        can_check=hasattr(actions, "check_domain"),
    )


@login_required
@require_POST
def domain_check(request, slug, domain_id):
    organization, _ = access_organization(request.user, slug, administrators_only=True)
    claimed = access_claimed_domain(organization, domain_id)
    try:
        claimed = actions.check_domain(claimed, actor=actor_for(request))
    except OrgAdminError as error:
        messages.error(request, f"{claimed.domain}: {error.message}")
    else:
        message = (
            getattr(claimed, "last_check_message", "") or claimed.get_status_display()
        )
        messages.info(request, f"{claimed.domain}: {message}")
    return redirect(
        f"{reverse('orgadmin:domain-list', args=[slug])}#domain-{claimed.pk}"
    )


@login_required
@require_POST
def domain_release(request, slug, domain_id):
    organization, _ = access_organization(request.user, slug, administrators_only=True)
    claimed = access_claimed_domain(organization, domain_id)
    actions.release_domain(claimed, actor=actor_for(request))
    messages.success(request, f"{claimed.domain} was released.")
    return redirect("orgadmin:domain-list", slug=slug)


@login_required
def sso_settings(request, slug):
    organization, me = access_organization(request.user, slug, administrators_only=True)
    configuration = SSOConfiguration.objects.filter(organization=organization).first()
    initial = {
        f: getattr(configuration or SSOConfiguration(), f)
        for f in forms.SSOConfigurationForm.base_fields
    }
    form = forms.SSOConfigurationForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            actions.update_sso_configuration(
                organization, actor=actor_for(request), **form.cleaned_data
            )
        except OrgAdminError as error:
            forms.add_action_error(form, error)
        else:
            messages.success(request, "SSO settings saved.")
            return redirect("orgadmin:sso-settings", slug=slug)
    return render_settings(
        request,
        "orgadmin/sso_settings.html",
        organization,
        me,
        "access",
        tab="sso",
        form=form,
        sp=service_provider_urls(organization),
        certificates=_certificates(initial["idp_x509_certificates"]),
    )


def service_provider_urls(organization) -> dict[str, str]:
    """The values to paste into the IdP, on django-allauth's SAML URL patterns."""
    base = f"{settings.ORGADMIN_BASE_URL}/accounts/saml/{organization.slug}"
    return {
        "entity_id": f"{base}/metadata/",
        "acs_url": f"{base}/acs/",
        "metadata_url": f"{base}/metadata/",
        "sign_in_url": f"{base}/login/",
    }


def _certificates(pem: str):
    try:
        return forms.parse_certificates(pem)
    except forms.ValidationError:
        return []


@login_required
def scim_settings(request, slug):
    organization, me = access_organization(request.user, slug, administrators_only=True)
    new_token = request.session.pop(NEW_TOKEN_SESSION_KEY, None)
    if new_token and new_token.get("organization") != organization.pk:
        new_token = None
    return render_settings(
        request,
        "orgadmin/scim_settings.html",
        organization,
        me,
        "access",
        tab="scim",
        new_token=new_token,
        tenant_url=f"{settings.ORGADMIN_BASE_URL}/scim/v2",
        tokens=ScimToken.objects.filter(organization=organization).select_related(
            "created_by"
        ),
        health=provisioning_health(organization),
    )


@login_required
def scim_token_create(request, slug):
    # The organization check comes first, so that people without access get a 404
    # rather than a password prompt.
    organization, me = access_organization(request.user, slug, administrators_only=True)
    return _scim_token_create(request, organization, me)


@reauthentication_required
def _scim_token_create(request, organization, me):
    form = forms.ScimTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            token, secret = actions.issue_scim_token(
                organization, actor=actor_for(request), **form.cleaned_data
            )
        except OrgAdminError as error:
            forms.add_action_error(form, error)
        else:
            request.session[NEW_TOKEN_SESSION_KEY] = {
                "organization": organization.pk,
                "name": token.name,
                "secret": secret,
            }
            return redirect("orgadmin:scim-settings", slug=organization.slug)
    return render_settings(
        request,
        "orgadmin/scim_token_create.html",
        organization,
        me,
        "access",
        tab="scim",
        form=form,
    )


@login_required
@require_POST
def scim_token_revoke(request, slug, token_id):
    organization, _ = access_organization(request.user, slug, administrators_only=True)
    token = access_scim_token(organization, token_id)
    try:
        actions.revoke_scim_token(token, actor=actor_for(request))
    except OrgAdminError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, f'The token "{token.name}" was revoked: it now answers 401.'
        )
    return redirect("orgadmin:scim-settings", slug=slug)


@login_required
def audit_log(request, slug):
    organization, me = access_organization(request.user, slug, administrators_only=True)
    events, filters = _filtered_events(request, organization)
    page = Paginator(events, EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    return render_settings(
        request,
        "orgadmin/audit_log.html",
        organization,
        me,
        "access",
        tab="audit",
        filters=filters,
        page=page,
        export_limit=f"{AUDIT_EXPORT_LIMIT:,}",
    )


@login_required
def audit_log_export(request, slug):
    organization, _ = access_organization(request.user, slug, administrators_only=True)
    events, _ = _filtered_events(request, organization)
    rows = events.values_list(*AUDIT_CSV_COLUMNS)[:AUDIT_EXPORT_LIMIT]
    writer = csv.writer(_Echo())
    lines = (
        writer.writerow([_csv_cell(value) for value in row])
        for row in chain([AUDIT_CSV_COLUMNS], rows.iterator(chunk_size=2000))
    )
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{slug}-audit-log.csv"'
    return response


AUDIT_CSV_COLUMNS = (
    "created_at",
    "actor_type",
    "actor_label",
    "action",
    "target_type",
    "target_id",
    "target_label",
    "changes",
    "ip_address",
)


def _filtered_events(request, organization):
    events = access_audit_events(organization)
    names = events.order_by("action").values_list("action", flat=True).distinct()
    filters = forms.AuditFilterForm(request.GET or None, actions=list(names))
    return filters.filter(events), filters


class _Echo:
    def write(self, value):
        return value


def _csv_cell(value):
    """Text for a spreadsheet: no formula injection from names the directory sent."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json.dumps(value, sort_keys=True)
    value = value.isoformat() if hasattr(value, "isoformat") else str(value)
    if value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
