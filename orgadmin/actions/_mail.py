"""Emails the actions send: a subject and a body template, rendered and sent once."""

from __future__ import annotations

import logging
import smtplib
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from orgadmin.models import Member, Organization

logger = logging.getLogger(__name__)


def _send_templated_mail(
    template: str, context: dict[str, Any], recipients: list[str]
) -> bool:
    """Render `orgadmin/email/<template>_subject.txt` and `<template>.txt` and send
    them; False when the mail server refused or could not be reached.

    A failed send never undoes the write that caused it: the caller decides whether
    to try again later.
    """
    if not recipients:
        return True
    context = {"base_url": settings.ORGADMIN_BASE_URL, **context}
    subject = render_to_string(f"orgadmin/email/{template}_subject.txt", context)
    body = render_to_string(f"orgadmin/email/{template}.txt", context)
    try:
        send_mail(" ".join(subject.split()), body, None, recipients)
    except (smtplib.SMTPException, OSError):
        logger.warning(
            "Could not send the %s email to %s.",
            template,
            ", ".join(recipients),
            exc_info=True,
        )
        return False
    return True


def _administrator_emails(organization: Organization) -> list[str]:
    """The addresses of the organization's active owners and admins who can sign in."""
    return sorted(
        set(
            Member.objects.for_organization(organization)
            .active()
            .administrators()
            .filter(user__is_active=True)
            .values_list("user__email", flat=True)
        )
    )
