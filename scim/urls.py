"""SCIM 2.0 routes, mounted at /scim/v2/. A trailing slash is optional everywhere:
APPEND_SLASH redirects would break POST and PATCH from identity providers."""

from django.urls import re_path

from scim import views
from scim.openapi import OpenApiView

app_name = "scim"

ID = r"(?P<scim_id>[^/]+)"
RESOURCE_ID = r"(?P<resource_id>[^/]+)"

urlpatterns = [
    re_path(r"^Users/?$", views.UserListView.as_view(), name="users"),
    re_path(r"^Users/\.search/?$", views.UserSearchView.as_view(), name="users-search"),
    re_path(rf"^Users/{ID}/?$", views.UserDetailView.as_view(), name="user"),
    re_path(r"^Groups/?$", views.GroupListView.as_view(), name="groups"),
    re_path(
        r"^Groups/\.search/?$", views.GroupSearchView.as_view(), name="groups-search"
    ),
    re_path(rf"^Groups/{ID}/?$", views.GroupDetailView.as_view(), name="group"),
    re_path(
        r"^ServiceProviderConfig/?$",
        views.ServiceProviderConfigView.as_view(),
        name="service-provider-config",
    ),
    re_path(
        r"^ResourceTypes/?$", views.ResourceTypeView.as_view(), name="resource-types"
    ),
    re_path(
        rf"^ResourceTypes/{RESOURCE_ID}/?$",
        views.ResourceTypeView.as_view(),
        name="resource-type",
    ),
    re_path(r"^Schemas/?$", views.SchemaView.as_view(), name="schemas"),
    re_path(rf"^Schemas/{RESOURCE_ID}/?$", views.SchemaView.as_view(), name="schema"),
    re_path(r"^openapi\.json$", OpenApiView.as_view(), name="openapi"),
    re_path(r"^\.search/?$", views.RootSearchView.as_view(), name="search"),
    re_path(
        r"^(Bulk|Me)(/.*)?$",
        views.NotImplementedView.as_view(),
        name="not-implemented",
    ),
    re_path(r"^.*$", views.UnknownEndpointView.as_view(), name="unknown"),
]
