"""Template context for every page: the organizations of the signed-in person."""

from django.utils.functional import SimpleLazyObject

from orgadmin.access import organizations_for_user


def organizations(request):
    # Lazy: pages that do not show the organization switcher pay no query.
    return {
        "my_organizations": SimpleLazyObject(
            lambda: list(organizations_for_user(request.user))
        )
    }
