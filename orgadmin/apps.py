from django.apps import AppConfig


class OrgadminConfig(AppConfig):
    name = "orgadmin"
    verbose_name = "Organizations"

    def ready(self):
        from orgadmin import (
            checks,  # noqa: F401 - registers the system checks
            require_two_factor,
            security_events,
        )

        security_events.connect()
        require_two_factor.connect()
