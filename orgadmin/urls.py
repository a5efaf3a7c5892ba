from django.contrib import admin
from django.urls import include, path

from orgadmin import views

app_patterns = (
    [
        path("", views.home, name="home"),
    ],
    "orgadmin",
)

urlpatterns = [
    path("", include(app_patterns)),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("scim/v2/", include("scim.urls")),
]
