"""Background work for accounts (enqueued with pypi_site.jobs.enqueue): each job takes ids and
is safe to run twice."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model

from accounts.emails import primary_email
from accounts.mail import send_templated_mail
from accounts.passwords import password_reset_url


def send_password_reset_by_staff(user_id: int) -> None:
    """Mail the link to set a new password after staff disabled the old one. The link is made
    when the job runs, so a retry sends one that still works."""
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None or user.has_usable_password():
        return  # Gone, or the password was set again since.
    email = primary_email(user)
    address = email.email if email is not None else user.email
    if not address:
        return
    send_templated_mail(
        to=address,
        template="password-reset-by-staff",
        context={
            "user": user,
            "url": password_reset_url(user),
            "hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
        },
    )
