from django.shortcuts import render

from orgadmin.access import organizations_for_user


def home(request):
    """The start page: the person's organizations, or an invitation to sign in."""
    organizations = organizations_for_user(request.user)
    return render(request, "orgadmin/home.html", {"organizations": organizations})
