"""The organization settings UI: thin views over orgadmin.access and orgadmin.actions."""

from __future__ import annotations

from allauth.account.decorators import reauthentication_required
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Exists, F, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from orgadmin import actions, audit_text, exports, forms, saml_views
from orgadmin.access import (
    access_audit_events,
    access_claimed_domain,
    access_invitation,
    access_member,
    access_organization,
    access_removed_member,
    access_scim_token,
    access_team,
    organizations_for_user,
)
from orgadmin.actions.deprovisioning import window_counts
from orgadmin.audit import Actor
from orgadmin.client_ip import client_ip
from orgadmin.errors import InvitationNotValid, OrgAdminError
from orgadmin.health import (
    provisioning_health,
    scim_group_collisions,
    setup_progress,
)
from orgadmin.models import (
    ClaimedDomain,
    Deprovisioning,
    DeprovisioningBrake,
    Member,
    RemovedMember,
    ScimToken,
    SSOAttempt,
    SSOConfiguration,
    Team,
    User,
)
from orgadmin.public_urls import saml_service_provider_urls, scim_tenant_url
from orgadmin.saml_metadata import describe_certificates
from orgadmin.saml_policy import require_sso_lockout
from orgadmin.timeline import TIMELINE_LENGTH, member_timeline

MEMBERS_PER_PAGE = 25
TEAMS_PER_PAGE = 50
EVENTS_PER_PAGE = 50
# The Access Security tabs that show the next setup step (domain, then SSO, then SCIM);
# the audit log keeps its fixed query count.
SETUP_TABS = ("domains", "sso", "scim")


def actor_for(request) -> Actor:
    return Actor.for_user(
        request.user,
        ip_address=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )


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
        paused_brake=_tripped_brake(organization) if me.is_administrator else None,
    )
    return render(request, template, context)


def _tripped_brake(organization) -> DeprovisioningBrake | None:
    """The organization's brake when it has tripped (read with the organization by
    access_organization, so the banner costs no query)."""
    try:
        brake = organization.deprovisioning_brake
    except DeprovisioningBrake.DoesNotExist:
        return None
    return brake if brake.is_tripped else None


def _back(request, default: str):
    """Return to the page the form came from (a filtered list), when it is ours."""
    target = request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(default)


# ------------------------------------------------------------------------------- errors


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: a form sent without a valid token, most often from a page left
    open across a sign-out or with cookies blocked; Django's reason is for the logs."""
    return render(request, "403_csrf.html", status=403)


# ----------------------------------------------------------------------------------- home


def home(request):
    """The start page: the person's organizations (the only one opens directly), the
    ones whose access was deactivated and whom to ask, or an invitation to sign in."""
    # Counted on their own join: organizations_for_user() filters its join to the
    # person's own membership, so a Count over it would always be 1.
    active_members = (
        Member.objects.filter(organization=OuterRef("pk"))
        .active()
        .exclude(pk__in=Member.objects.invited().values("pk"))
        .order_by()
        .values("organization")
        .annotate(count=Count("pk"))
        .values("count")
    )
    organizations = list(
        organizations_for_user(request.user).annotate(
            member_count=Coalesce(Subquery(active_members), 0)
        )
    )
    deactivated = _deactivated_memberships(request.user)
    if len(organizations) == 1 and not deactivated:
        return redirect("orgadmin:organization-general", slug=organizations[0].slug)
    return render(
        request,
        "orgadmin/home.html",
        {"organizations": organizations, "deactivated": deactivated},
    )


# Whom a deactivated person is told to ask: the first few owners, then admins.
CONTACTS_SHOWN = 3


def _deactivated_memberships(user) -> list[tuple[Member, list[Member]]]:
    """The person's deactivated memberships, each with the organization's active
    owners and admins, whom they can ask to restore their access."""
    if not user.is_authenticated:
        return []
    deactivated = list(
        Member.objects.filter(user=user, is_active=False)
        .select_related("organization")
        .order_by("organization__name")
    )
    return [
        (
            membership,
            list(
                Member.objects.for_organization(membership.organization)
                .active()
                .administrators()
                .filter(user__is_active=True)
                .select_related("user")
                .order_by("-role", "display_name", "email")[:CONTACTS_SHOWN]
            ),
        )
        for membership in deactivated
    ]


@login_required
def organization_general(request, slug):
    organization, me = access_organization(request.user, slug)
    before = forms.OrganizationForm.initial_from(organization)
    form = forms.OrganizationForm(request.POST or None, initial=before, me=me)
    if (
        request.method == "POST"
        and me.is_administrator
        and form.submit(
            actions.update_organization, organization, actor=actor_for(request)
        )
    ):
        # The action changed the organization in place: a Save that left every value
        # as it was changed nothing (and recorded nothing).
        if forms.OrganizationForm.initial_from(organization) == before:
            messages.info(request, NO_CHANGES)
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


NO_CHANGES = "No changes to save."


# -------------------------------------------------------------------------------- members


@login_required
def member_list(request, slug):
    organization, me = access_organization(request.user, slug)
    filters = forms.MemberFilterForm(request.GET or None)
    members = filters.filter(
        Member.objects.for_organization(organization).annotate(
            team_count=Count("team_memberships"),
            has_two_factor=Exists(
                Authenticator.objects.filter(
                    user=OuterRef("user"), type=Authenticator.Type.TOTP
                )
            ),
            last_login=F("user__last_login"),
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


@login_required
def member_removed_list(request, slug):
    """The members removed in the last RemovedMember.KEEP, which owners may restore;
    linked from the Members page."""
    organization, me = access_organization(request.user, slug, administrators_only=True)
    removed = RemovedMember.objects.for_organization(organization).restorable()
    return render_settings(
        request,
        "orgadmin/member_removed_list.html",
        organization,
        me,
        "members",
        page=Paginator(removed, MEMBERS_PER_PAGE).get_page(request.GET.get("page")),
        keep_days=RemovedMember.KEEP.days,
    )


@login_required
@require_POST
def member_restore(request, slug, removed_id):
    organization, _ = access_organization(request.user, slug, administrators_only=True)
    removed = access_removed_member(organization, removed_id)
    try:
        member = actions.restore_member(removed, actor=actor_for(request))
    except OrgAdminError as error:
        messages.error(request, f"{removed.label} was not restored: {error.message}")
        return redirect("orgadmin:member-removed-list", slug=slug)
    messages.success(
        request,
        f"{member.label} was restored, with their teams; the identity provider sees "
        "them again under the same id.",
    )
    return redirect("orgadmin:member-detail", slug=slug, member_id=member.pk)


def _sole_owner_id(organization) -> int | None:
    """The only active owner, whom deactivate_member and change_member_role refuse to
    demote, so the pages offer neither; None when there are several."""
    owners = list(
        Member.objects.for_organization(organization)
        .active()
        .filter(role=Member.Role.OWNER, user__isnull=False)
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
        request,
        "orgadmin/member_invite.html",
        organization,
        me,
        "members",
        form=form,
        invitation_days=settings.ORGADMIN_INVITATION_DAYS,
    )


def invited_message(request, member) -> str:
    if member.user_id:
        return f"{member.email} was added: they can sign in now."
    return (
        f"{member.email} was invited: they join once they follow the link in the "
        f"email, which works for {member.invitation_days_left} days."
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
        timeline=member_timeline(member) if me.is_administrator else [],
        timeline_length=TIMELINE_LENGTH,
        sole_owner_id=_sole_owner_id(organization),
        role_form=role_form
        or forms.MemberRoleForm(initial={"role": member.role}, me=me, member=member),
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


@login_required
def member_ownership(request, slug, member_id):
    """Confirm a new owner: transfer ownership (the owner steps down to admin) or add
    another owner. Only owners reach it."""
    organization, me = access_organization(request.user, slug, administrators_only=True)
    member = access_member(organization, member_id)
    if me.role != Member.Role.OWNER:
        raise Http404("No such page.")
    form = forms.OwnershipForm(request.POST or None)
    transfer = form.data.get("change") != forms.OwnershipForm.ADD
    if request.method == "POST" and (
        form.submit(
            actions.transfer_ownership,
            organization,
            to_member=member,
            actor=actor_for(request),
        )
        if transfer
        else form.submit(
            actions.change_member_role,
            member,
            role=Member.Role.OWNER,
            actor=actor_for(request),
        )
    ):
        messages.success(
            request,
            f"{member.label} is now an owner"
            + ("; you are now an admin." if transfer else "."),
        )
        return redirect("orgadmin:member-detail", slug=slug, member_id=member.pk)
    return render_settings(
        request,
        "orgadmin/member_ownership.html",
        organization,
        me,
        "members",
        member=member,
        form=form,
    )


SCIM_MANAGED_MEMBER = (
    "This person is managed by your identity provider through SCIM: change their "
    "profile there."
)


def _member_state_view(action, done: str, *, gone: bool = False):
    """A button on a member: `done` is the message, with {label}; with `gone`, the
    action removes the member, so the page to return to is the list."""

    @login_required
    @require_POST
    def view(request, slug, member_id):
        organization, me = access_organization(
            request.user, slug, administrators_only=True
        )
        member = access_member(organization, member_id)
        back = reverse("orgadmin:member-detail", args=[slug, member.pk])
        if gone:
            back = reverse("orgadmin:member-list", args=[slug])
        try:
            action(member, actor=actor_for(request))
        except OrgAdminError as error:
            messages.error(request, f"{member.label}: {error.message}")
        else:
            messages.success(request, done.format(label=member.label))
        return _back(request, back)

    return view


member_deactivate = _member_state_view(
    actions.deactivate_member,
    "{label} was deactivated: they can no longer sign in here.",
)
member_reactivate = _member_state_view(
    actions.reactivate_member, "{label} was reactivated."
)
member_invitation_resend = _member_state_view(
    actions.resend_invitation,
    "A new invitation was emailed to {label}; the previous link no longer works.",
)
member_invitation_revoke = _member_state_view(
    actions.revoke_invitation,
    "The invitation of {label} was revoked: its link no longer works.",
    gone=True,
)


# ---------------------------------------------------------------------------- invitations


def invitation_accept(request, token):
    """Follow an invitation link: set a password (no account yet), or accept while
    signed in as the invited address's account."""
    try:
        member = access_invitation(token)
    except InvitationNotValid as error:
        return render(
            request, "orgadmin/invitation_invalid.html", {"error": error}, status=410
        )
    account = User.objects.filter(email__iexact=member.email).first()
    signed_in = request.user if request.user.is_authenticated else None
    context = {"invitation": member, "account": account, "signed_in": signed_in}
    if signed_in != account:
        # Sign in as the invited address's account first, or sign out of another one.
        return render(request, "orgadmin/invitation_accept.html", context)
    data = request.POST if request.method == "POST" else None
    form = (
        forms.ActionForm(data)  # nothing to fill in: the button accepts
        if signed_in
        else forms.InvitationPasswordForm(data, email=member.email)
    )
    if request.method == "POST" and form.submit(
        actions.accept_invitation,
        member,
        nonce=member.invitation_nonce,
        user=signed_in,
        ip_address=client_ip(request),
    ):
        if signed_in is None:
            login(request, form.result, backend=SIGN_IN_BACKEND)
        messages.success(request, f"Welcome to {member.organization.name}.")
        return redirect("orgadmin:organization-general", slug=member.organization.slug)
    return render(request, "orgadmin/invitation_accept.html", {**context, "form": form})


SIGN_IN_BACKEND = "allauth.account.auth_backends.AuthenticationBackend"


def email_management_not_mounted(request):
    """allauth's /accounts/email/: people get their address from an invitation, SCIM or
    SSO, and changing it is the job of the organization's admins or its IdP."""
    raise Http404("No such page.")


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
        request,
        "orgadmin/team_list.html",
        organization,
        me,
        "teams",
        page=page,
        collisions=scim_group_collisions(organization) if me.is_administrator else [],
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
        role_form=forms.TeamRoleForm(initial={"grants_role": team.grants_role}),
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
    elif "adopt_for_scim" in request.POST:
        actions.adopt_team_for_scim(team, actor=actor_for(request))
        messages.success(
            request,
            f"{team.display_name} is now managed by SCIM: your identity provider's "
            "group of that name takes it over on its next sync.",
        )
        return _back(request, reverse("orgadmin:team-detail", args=[slug, team.pk]))
    elif "display_name" in request.POST:
        touched = team.updated_at
        form = forms.TeamForm(request.POST)
        if not form.submit(actions.update_team, team, actor=actor_for(request)):
            return _team_page(request, organization, me, team, rename_form=form)
        # update_team touches the team (updated_at, version) only when it changed.
        if team.updated_at == touched:
            messages.info(request, NO_CHANGES)
        else:
            messages.success(request, "Team renamed.")
    elif "email" in request.POST:
        touched = team.updated_at
        form = forms.TeamMemberAddForm(request.POST, organization=organization)
        if not form.submit(actions.add_team_members, team, actor=actor_for(request)):
            return _team_page(request, organization, me, team, add_form=form)
        if team.updated_at == touched:
            messages.info(request, f"{form.member.label} was already on the team.")
        else:
            messages.success(request, f"{form.member.label} was added to the team.")
    elif "remove_member" in request.POST:
        member = access_member(organization, request.POST["remove_member"])
        actions.remove_team_members(
            team, member_ids=[member.pk], actor=actor_for(request)
        )
        messages.success(request, f"{member.label} was removed from the team.")
    return redirect("orgadmin:team-detail", slug=slug, team_id=team_id)


@login_required
@require_POST
def team_role(request, slug, team_id):
    """An owner maps a SCIM-managed team (an IdP group) to the admin role, or not."""
    organization, _ = access_organization(request.user, slug, administrators_only=True)
    team = access_team(organization, team_id)
    form = forms.TeamRoleForm(request.POST)
    if form.submit(actions.set_team_grants_role, team, actor=actor_for(request)):
        messages.success(
            request,
            f"Members of {team.display_name} are now admins while they are in it."
            if team.grants_role
            else f"{team.display_name} no longer grants a role.",
        )
    else:
        messages.error(request, " ".join(e for es in form.errors.values() for e in es))
    return redirect("orgadmin:team-detail", slug=slug, team_id=team.pk)


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
            request, f"{claimed.unicode_domain} was added: now create its TXT record."
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
    previous = claimed.status
    try:
        claimed = actions.check_domain(claimed, actor=actor_for(request))
    except OrgAdminError as error:
        messages.error(request, f"{claimed.unicode_domain}: {error.message}")
    else:
        # The result itself is on the domain's panel, under "Last checked".
        status = claimed.get_status_display().lower()
        if claimed.status != previous:
            messages.info(request, f"{claimed.unicode_domain} is now {status}.")
        else:
            messages.info(
                request, f"{claimed.unicode_domain} was checked: still {status}."
            )
    return redirect(_domain_anchor(slug, claimed))


@login_required
@require_POST
def domain_release(request, slug, domain_id):
    organization, _ = access_organization(request.user, slug, administrators_only=True)
    claimed = access_claimed_domain(organization, domain_id)
    actions.release_domain(claimed, actor=actor_for(request))
    messages.success(request, f"{claimed.unicode_domain} was released.")
    return redirect("orgadmin:domain-list", slug=slug)


@never_cache
@login_required
def sso_settings(request, slug):
    organization, me = access_organization(request.user, slug, administrators_only=True)
    configuration = SSOConfiguration.objects.filter(
        organization=organization
    ).first() or SSOConfiguration(organization=organization)
    was_required = configuration.require_sso
    before = forms.SSOConfigurationForm.initial_from(configuration)
    form = forms.SSOConfigurationForm(
        request.POST or None,
        request.FILES or None,
        initial=before,
        configuration=configuration if configuration.pk else None,
    )
    if request.method == "POST" and form.submit(
        actions.update_sso_configuration, organization, actor=actor_for(request)
    ):
        # The form's fields are the settings the action diffs and records: the same
        # values after it means it changed (and recorded) nothing.
        if forms.SSOConfigurationForm.initial_from(form.result) == before:
            messages.info(request, NO_CHANGES)
        else:
            messages.success(request, "SSO settings saved.")
        if form.result.require_sso and not was_required:
            messages.info(
                request,
                "Require SSO is on. Keep these recovery codes: with your password, "
                "each opens your account once if the IdP fails.",
            )
            return redirect("mfa_view_recovery_codes")
        return redirect("orgadmin:sso-settings", slug=slug)
    attempts = SSOAttempt.objects.for_organization(organization).select_related(
        "member"
    )
    test_reference = request.GET.get("test", "")
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
        certificates=describe_certificates(configuration.idp_x509_certificates),
        attempts=attempts[:50],
        test_result=attempts.filter(reference=test_reference).first()
        if test_reference
        else None,
        lockout=require_sso_lockout(organization)
        if not configuration.require_sso
        else [],
    )


@login_required
@require_POST
def sso_test(request, slug):
    """Test SSO: a real round trip through the IdP as the admin, shown on the tab."""
    organization, _ = access_organization(request.user, slug, administrators_only=True)
    configuration = SSOConfiguration.objects.filter(organization=organization).first()
    if configuration is None or not configuration.has_idp_settings:
        messages.error(request, "Enter and save the IdP settings first.")
        return redirect("orgadmin:sso-settings", slug=slug)
    return saml_views.test_sso(request, configuration)


@login_required
@require_POST
def sso_refresh_metadata(request, slug):
    organization, _ = access_organization(request.user, slug, administrators_only=True)
    configuration = SSOConfiguration.objects.filter(organization=organization).first()
    if configuration is None:
        messages.error(request, "Save a metadata URL first.")
        return redirect("orgadmin:sso-settings", slug=slug)
    try:
        actions.refresh_sso_metadata(configuration, actor=actor_for(request))
    except OrgAdminError as error:
        messages.error(request, f"The metadata was not refreshed: {error.message}")
    else:
        messages.success(request, "The IdP metadata was read again.")
    return redirect("orgadmin:sso-settings", slug=slug)


@never_cache
@login_required
def scim_settings(request, slug):
    """The SCIM tab; its one form is the deprovisioning brake's threshold (owners)."""
    organization, me = access_organization(request.user, slug, administrators_only=True)
    brake_form = forms.DeprovisioningBrakeForm(request.POST or None)
    if request.method == "POST" and brake_form.submit(
        actions.update_deprovisioning_brake, organization, actor=actor_for(request)
    ):
        messages.success(request, "The deprovisioning brake was saved.")
        return redirect("orgadmin:scim-settings", slug=slug)
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
        health=provisioning_health(
            organization, tokens=tokens, chart=request.GET.get("chart", "")
        ),
        **_brake_panel(organization, brake_form if brake_form.is_bound else None),
    )


def _brake_panel(organization, brake_form=None) -> dict:
    """The SCIM tab's deprovisioning brake: its state, the current window, the last
    HELD_BACK_SHOWN requests it held back, and the threshold form."""
    try:
        brake = organization.deprovisioning_brake
    except DeprovisioningBrake.DoesNotExist:
        # Never used: made by the first SCIM deprovisioning, nothing counted yet.
        brake = DeprovisioningBrake(organization=organization)
    count = active_at_start = None
    held_back = []
    if brake.pk:
        count, active_at_start = window_counts(brake, timezone.now())
        held_back = list(
            Deprovisioning.objects.for_organization(organization)
            .held_back()
            .select_related("token")[:HELD_BACK_SHOWN]
        )
    return {
        "brake": brake,
        "brake_count": count,
        "brake_active_at_start": active_at_start,
        "held_back": held_back,
        "brake_form": brake_form
        or forms.DeprovisioningBrakeForm(
            initial=forms.DeprovisioningBrakeForm.initial_from(brake)
        ),
    }


HELD_BACK_SHOWN = 100


@login_required
@require_POST
def scim_brake_resume(request, slug):
    organization, _ = access_organization(request.user, slug, administrators_only=True)
    try:
        actions.resume_deprovisioning(organization, actor=actor_for(request))
    except OrgAdminError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            "Deprovisioning resumed: your identity provider's next cycle sends the "
            "held-back requests again, and a fresh hour is counted.",
        )
    return redirect("orgadmin:scim-settings", slug=slug)


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
        rows=[audit_text.describe(event) for event in page.object_list],
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
