"""SCIM 2.0 routes, mounted at /scim/v2/ (filled in by the SCIM endpoint)."""

app_name = "scim"

urlpatterns: list = []
