"""The organization settings UI: thin views over orgadmin.access and orgadmin.actions."""

from __future__ import annotations

from allauth.account.decorators import reauthentication_required
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from orgadmin import actions, exports, forms
from orgadmin.access import (
    access_audit_events,
    access_claimed_domain,
    access_member,
    access_organization,
    access_scim_token,
    access_team,
    organizations_for_user,
)
from orgadmin.audit import Actor
from orgadmin.client_ip import client_ip
from orgadmin.errors import OrgAdminError
from orgadmin.health import provisioning_health, setup_progress
from orgadmin.models import ClaimedDomain, Member, ScimToken, SSOConfiguration, Team
from orgadmin.public_urls import saml_service_provider_urls, scim_tenant_url

MEMBERS_PER_PAGE = 25
TEAMS_PER_PAGE = 50
EVENTS_PER_PAGE = 50
# The Access Security tabs that show the next setup step (domain, then SSO, then SCIM);
# the audit log keeps its fixed query count.
SETUP_TABS = ("domains", "sso", "scim")


def actor_for(request) -> Actor:
    return Actor.for_user(request.user, ip_address=client_ip(request))


def render_settings(request, template, organization, me, section, **context):
    """Render a settings page with the navigation, the failing-domain banner and, for
    administrators on General and Access Security, the setup progress (next step)."""
    failing = ClaimedDomain.objects.none()
    if me.is_administrator:
        failing = ClaimedDomain.objects.for_organization(organization).failing()
        if section == "general" or context.get("tab") in SETUP_TABS:
            context.setdefault("setup", setup_progress(organization))
    context.update(
        organization=organization,
        me=me,
        section=section,
        failing_domains=list(failing),
    )
    return render(request, template, context)


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
    form = forms.OrganizationForm(
        request.POST or None, initial=forms.OrganizationForm.initial_from(organization)
    )
    if (
        request.method == "POST"
        and me.is_administrator
        and form.submit(
            actions.update_organization, organization, actor=actor_for(request)
        )
    ):
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
        sole_owner_id=_sole_owner_id(organization),
    )


def _sole_owner_id(organization) -> int | None:
    """The only active owner, whom deactivate_member and change_member_role refuse to
    demote, so the pages offer neither; None when there are several."""
    owners = list(
        Member.objects.for_organization(organization)
        .active()
        .filter(role=Member.Role.OWNER)
        .values_list("pk", flat=True)[:2]
    )
    return owners[0] if len(owners) == 1 else None


@login_required
def member_invite(request, slug):
    organization, me = access_organization(request.user, slug, administrators_only=True)
    form = forms.MemberInviteForm(request.POST or None, me=me)
    if request.method == "POST" and form.submit(
        actions.add_member, organization, actor=actor_for(request)
    ):
        messages.success(request, invited_message(request, form.result))
        return redirect("orgadmin:member-list", slug=slug)
    return render_settings(
        request, "orgadmin/member_invite.html", organization, me, "members", form=form
    )


def invited_message(request, member) -> str:
    return (
        f"{member.email} was added and emailed how to sign in: with their password, "
        "or by setting one through “Forgot your password?” on the sign-in page."
    )


@login_required
def member_detail(request, slug, member_id):
    organization, me = access_organization(request.user, slug)
    return _member_page(
        request, organization, me, access_member(organization, member_id)
    )


def _member_page(request, organization, me, member, role_form=None, profile_form=None):
    """The member page; a refused role or profile form comes back with its errors."""
    return render_settings(
        request,
        "orgadmin/member_detail.html",
        organization,
        me,
        "members",
        member=member,
        teams=member.teams.order_by("display_name"),
        emails=member.email_addresses.all(),
        sole_owner_id=_sole_owner_id(organization),
        role_form=role_form
        or forms.MemberRoleForm(initial={"role": member.role}, me=me),
        profile_form=profile_form
        or forms.MemberProfileForm(
            initial=forms.MemberProfileForm.initial_from(member)
        ),
    )


@login_required
@require_POST
def member_role(request, slug, member_id):
    organization, me = access_organization(request.user, slug, administrators_only=True)
    member = access_member(organization, member_id)
    form = forms.MemberRoleForm(request.POST, me=me, member=member)
    if not form.submit(actions.change_member_role, member, actor=actor_for(request)):
        return _member_page(request, organization, me, member, role_form=form)
    messages.success(request, f"{member.label} is now {member.get_role_display()}.")
    return redirect("orgadmin:member-detail", slug=slug, member_id=member.pk)


@login_required
@require_POST
def member_profile(request, slug, member_id):
    organization, me = access_organization(request.user, slug, administrators_only=True)
    member = access_member(organization, member_id)
    if member.is_scim_managed:
        messages.error(request, SCIM_MANAGED_MEMBER)
        return redirect("orgadmin:member-detail", slug=slug, member_id=member.pk)
    form = forms.MemberProfileForm(request.POST)
    if not form.submit(actions.update_member, member, actor=actor_for(request)):
        return _member_page(request, organization, me, member, profile_form=form)
    messages.success(request, "Profile saved.")
    return redirect("orgadmin:member-detail", slug=slug, member_id=member.pk)


SCIM_MANAGED_MEMBER = (
    "This person is managed by your identity provider through SCIM: change their "
    "profile there."
)


def _member_state_view(action, done: str):
    @login_required
    @require_POST
    def view(request, slug, member_id):
        organization, me = access_organization(
            request.user, slug, administrators_only=True
        )
        member = access_member(organization, member_id)
        back = reverse("orgadmin:member-detail", args=[slug, member.pk])
        try:
            action(member, actor=actor_for(request))
        except OrgAdminError as error:
            messages.error(request, f"{member.label}: {error.message}")
        else:
            messages.success(request, f"{member.label} {done}.")
        return _back(request, back)

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
    if request.method == "POST" and form.submit(
        actions.create_team, organization, actor=actor_for(request)
    ):
        messages.success(request, f"Team {form.result.display_name} was created.")
        return redirect("orgadmin:team-detail", slug=slug, team_id=form.result.pk)
    return render_settings(
        request, "orgadmin/team_create.html", organization, me, "teams", form=form
    )


@login_required
def team_detail(request, slug, team_id):
    organization, me = access_organization(request.user, slug)
    return _team_page(request, organization, me, access_team(organization, team_id))


def _team_page(request, organization, me, team, rename_form=None, add_form=None):
    """The team page; a refused rename or add form comes back with its errors."""
    members = Member.objects.filter(team_memberships__team=team).order_by("email")
    return render_settings(
        request,
        "orgadmin/team_detail.html",
        organization,
        me,
        "teams",
        team=team,
        page=Paginator(members, MEMBERS_PER_PAGE).get_page(request.GET.get("page")),
        rename_form=rename_form
        or forms.TeamForm(initial={"display_name": team.display_name}),
        add_form=add_form or forms.TeamMemberAddForm(),
    )


@login_required
@require_POST
def team_update(request, slug, team_id):
    """Rename the team, add a member by email or remove one: three small forms."""
    organization, me = access_organization(request.user, slug, administrators_only=True)
    team = access_team(organization, team_id)
    if team.is_scim_managed:
        messages.error(request, scim_managed_team_message(team))
    elif "display_name" in request.POST:
        form = forms.TeamForm(request.POST)
        if not form.submit(actions.update_team, team, actor=actor_for(request)):
            return _team_page(request, organization, me, team, rename_form=form)
        messages.success(request, "Team renamed.")
    elif "email" in request.POST:
        form = forms.TeamMemberAddForm(request.POST, organization=organization)
        if not form.submit(actions.add_team_members, team, actor=actor_for(request)):
            return _team_page(request, organization, me, team, add_form=form)
        messages.success(request, f"{form.member.label} was added to the team.")
    elif "remove_member" in request.POST:
        member = access_member(organization, request.POST["remove_member"])
        actions.remove_team_members(
            team, member_ids=[member.pk], actor=actor_for(request)
        )
        messages.success(request, f"{member.label} was removed from the team.")
    return redirect("orgadmin:team-detail", slug=slug, team_id=team_id)


def scim_managed_team_message(team) -> str:
    return (
        f"{team.display_name} is managed by your identity provider through SCIM: "
        "change it there."
    )


@login_required
@require_POST
def team_delete(request, slug, team_id):
    organization, _ = access_organization(request.user, slug, administrators_only=True)
    team = access_team(organization, team_id)
    if team.is_scim_managed:
        messages.error(request, scim_managed_team_message(team))
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
    if request.method == "POST" and form.submit(
        actions.claim_domain, organization, actor=actor_for(request)
    ):
        claimed = form.result
        messages.success(
            request, f"{claimed.domain} was added: now create its TXT record."
        )
        return redirect(_domain_anchor(slug, claimed))
    return render_settings(
        request,
        "orgadmin/domain_list.html",
        organization,
        me,
        "access",
        tab="domains",
        form=form,
        domains=ClaimedDomain.objects.for_organization(organization),
    )


def _domain_anchor(slug, claimed) -> str:
    return f"{reverse('orgadmin:domain-list', args=[slug])}#domain-{claimed.pk}"


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
    return redirect(_domain_anchor(slug, claimed))


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
    configuration = SSOConfiguration.objects.filter(
        organization=organization
    ).first() or SSOConfiguration(organization=organization)
    initial = forms.SSOConfigurationForm.initial_from(configuration)
    form = forms.SSOConfigurationForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.submit(
        actions.update_sso_configuration, organization, actor=actor_for(request)
    ):
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
        configuration=configuration,
        sp=saml_service_provider_urls(organization),
        certificates=_certificates(initial["idp_x509_certificates"]),
    )


def _certificates(pem: str):
    try:
        return forms.parse_certificates(pem)
    except forms.ValidationError:
        return []


@never_cache
@login_required
def scim_settings(request, slug):
    organization, me = access_organization(request.user, slug, administrators_only=True)
    tokens = list(
        ScimToken.objects.filter(organization=organization).select_related("created_by")
    )
    return render_settings(
        request,
        "orgadmin/scim_settings.html",
        organization,
        me,
        "access",
        tab="scim",
        tenant_url=scim_tenant_url(),
        tokens=tokens,
        health=provisioning_health(organization, tokens=tokens),
    )


# The secret is only in the answer to the POST that made it (never in the session), and
# no cache keeps that answer: reloading the SCIM tab never shows the secret again.
@never_cache
@login_required
def scim_token_create(request, slug):
    # The organization check comes first, so that people without access get a 404
    # rather than a password prompt.
    organization, me = access_organization(request.user, slug, administrators_only=True)
    return _scim_token_create(request, organization, me)


@reauthentication_required
def _scim_token_create(request, organization, me):
    form = forms.ScimTokenForm(request.POST or None)
    if request.method == "POST" and form.submit(
        actions.issue_scim_token, organization, actor=actor_for(request)
    ):
        token, secret = form.result
        return render_settings(
            request,
            "orgadmin/scim_token_created.html",
            organization,
            me,
            "access",
            tab="scim",
            token=token,
            secret=secret,
            tenant_url=scim_tenant_url(),
        )
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
        export_limit=f"{exports.AUDIT_EXPORT_LIMIT:,}",
    )


@login_required
def audit_log_export(request, slug):
    organization, _ = access_organization(request.user, slug, administrators_only=True)
    events, filters = _filtered_events(request, organization)
    if filters.is_bound and not filters.is_valid():
        # Never a full export in place of the filtered one that was asked for.
        return HttpResponseBadRequest(
            filters.errors_as_text(), content_type="text/plain; charset=utf-8"
        )
    return exports.audit_log_csv(events, filename=f"{slug}-audit-log.csv")


def _filtered_events(request, organization):
    events = access_audit_events(organization)
    names = events.order_by("action").values_list("action", flat=True).distinct()
    filters = forms.AuditFilterForm(request.GET or None, actions=list(names))
    return filters.filter(events), filters
