from django.contrib import admin
from django.urls import include, path

from orgadmin import saml_views, views
from orgadmin.public_urls import SCIM_PATH

organization_patterns = [
    path("", views.organization_general, name="organization-general"),
    path("members/", views.member_list, name="member-list"),
    path("members/invite/", views.member_invite, name="member-invite"),
    path("members/<int:member_id>/", views.member_detail, name="member-detail"),
    path("members/<int:member_id>/role/", views.member_role, name="member-role"),
    path(
        "members/<int:member_id>/profile/",
        views.member_profile,
        name="member-profile",
    ),
    path(
        "members/<int:member_id>/deactivate/",
        views.member_deactivate,
        name="member-deactivate",
    ),
    path(
        "members/<int:member_id>/reactivate/",
        views.member_reactivate,
        name="member-reactivate",
    ),
    path(
        "members/<int:member_id>/invitation/resend/",
        views.member_invitation_resend,
        name="member-invitation-resend",
    ),
    path(
        "members/<int:member_id>/invitation/revoke/",
        views.member_invitation_revoke,
        name="member-invitation-revoke",
    ),
    path(
        "members/<int:member_id>/ownership/",
        views.member_ownership,
        name="member-ownership",
    ),
    path("members/removed/", views.member_removed_list, name="member-removed-list"),
    path(
        "members/removed/<int:removed_id>/restore/",
        views.member_restore,
        name="member-restore",
    ),
    path("teams/", views.team_list, name="team-list"),
    path("teams/new/", views.team_create, name="team-create"),
    path("teams/<int:team_id>/", views.team_detail, name="team-detail"),
    path("teams/<int:team_id>/update/", views.team_update, name="team-update"),
    path("teams/<int:team_id>/delete/", views.team_delete, name="team-delete"),
    path("teams/<int:team_id>/role/", views.team_role, name="team-role"),
    path("access-security/", views.access_security, name="access-security"),
    path("access-security/domains/", views.domain_list, name="domain-list"),
    path(
        "access-security/domains/<int:domain_id>/check/",
        views.domain_check,
        name="domain-check",
    ),
    path(
        "access-security/domains/<int:domain_id>/release/",
        views.domain_release,
        name="domain-release",
    ),
    path("access-security/sso/", views.sso_settings, name="sso-settings"),
    path("access-security/sso/test/", views.sso_test, name="sso-test"),
    path(
        "access-security/sso/refresh-metadata/",
        views.sso_refresh_metadata,
        name="sso-refresh-metadata",
    ),
    path("access-security/scim/", views.scim_settings, name="scim-settings"),
    path(
        "access-security/scim/brake/resume/",
        views.scim_brake_resume,
        name="scim-brake-resume",
    ),
    path(
        "access-security/scim/tokens/new/",
        views.scim_token_create,
        name="scim-token-create",
    ),
    path(
        "access-security/scim/tokens/<int:token_id>/revoke/",
        views.scim_token_revoke,
        name="scim-token-revoke",
    ),
    path("access-security/audit-log/", views.audit_log, name="audit-log"),
    path(
        "access-security/audit-log.csv",
        views.audit_log_export,
        name="audit-log-export",
    ),
]

app_patterns = (
    [
        path("", views.home, name="home"),
        path(
            "invitations/<str:token>/",
            views.invitation_accept,
            name="invitation-accept",
        ),
        path("organizations/<slug:slug>/", include(organization_patterns)),
    ],
    "orgadmin",
)

urlpatterns = [
    path("", include(app_patterns)),
    # Not allauth's email management: a person could add and make primary any unused
    # address there. Addresses come from invitations, SCIM and SSO.
    path("accounts/email/", views.email_management_not_mounted),
    # Before allauth's: its SAML metadata and finish-ACS views, on the same routes,
    # replaced by orgadmin.saml_views (URLs from ORGADMIN_BASE_URL, explained refusals).
    path(
        "accounts/saml/<str:organization_slug>/metadata/",
        saml_views.metadata,
        name="saml_metadata",
    ),
    path(
        "accounts/saml/<str:organization_slug>/acs/finish/",
        saml_views.finish_acs,
        name="saml_finish_acs",
    ),
    path("accounts/sso/", saml_views.sign_in_with_sso, name="sso-sign-in"),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path(f"{SCIM_PATH}/", include("scim.urls")),
]

handler500 = "orgadmin.middleware.server_error"
