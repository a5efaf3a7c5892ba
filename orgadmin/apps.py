from django.apps import AppConfig


class OrgadminConfig(AppConfig):
    name = "orgadmin"
    verbose_name = "Organizations"

    def ready(self):
        from orgadmin import (
            checks,  # noqa: F401 - registers the system checks
            security_events,
        )

        security_events.connect()
