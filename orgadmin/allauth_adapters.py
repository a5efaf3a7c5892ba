"""django-allauth adapters and forms: nobody signs up on their own, and a mailbox
proven through allauth (a password reset, a confirmation link) counts as proven."""

from allauth.account import forms as allauth_forms
from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter

from orgadmin import actions


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        # People arrive by invitation, SCIM or SSO; an open sign-up form would let anyone
        # create an account under a company's address.
        return False

    def send_password_reset_mail(self, user, email, context):
        # Completing a reset proves the account's own address (User.email), so the link
        # goes there, whichever address of the person's was typed.
        super().send_password_reset_mail(user, user.email, context)

    def confirm_email(self, request, email_address):
        confirmed = super().confirm_email(request, email_address)
        if confirmed:
            actions.record_proven_email(
                email_address.user, email=email_address.email, proof="verified_email"
            )
        return confirmed


class ResetPasswordKeyForm(allauth_forms.ResetPasswordKeyForm):
    """allauth's new-password form: the reset link reached the account's address."""

    def save(self):
        super().save()
        actions.record_proven_email(
            self.user, email=self.user.email, proof="password_reset"
        )


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request, sociallogin):
        return False
