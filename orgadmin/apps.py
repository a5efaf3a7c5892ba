from django.apps import AppConfig


class OrgadminConfig(AppConfig):
    name = "orgadmin"
    verbose_name = "Organizations"
