"""Background jobs of the packages app. Each takes ids, loads rows and is safe to run twice."""

from __future__ import annotations

from django.utils import timezone

from packages import maintenance, rendering
from packages.models import Release


def render_description(release_id: int) -> None:
    """Render a release's description into `description_html`; a deleted release is skipped."""
    release = (
        Release.objects.filter(pk=release_id)
        .only("id", "description", "description_content_type")
        .first()
    )
    if release is None:
        return
    html = rendering.render_description(
        text=release.description, content_type=release.description_content_type
    )
    Release.objects.filter(pk=release_id).update(
        description_html=html, description_rendered_at=timezone.now()
    )


# --- Maintenance and moderation jobs (packages/maintenance.py, packages/moderation.py) -------


def recompute_project_size(project_id: int) -> None:
    """Correct a project's total size from its files; a deleted project is skipped."""
    maintenance.recompute_size(project_id)


def extract_file_metadata(file_id: int) -> None:
    """Store a wheel's PEP 658 metadata if it is missing; a deleted file is skipped."""
    maintenance.extract_metadata(file_id)


def send_password_reset_by_staff(user_id: int) -> None:
    """Mail the link to set a new password after staff disabled the old one. The link is made
    when the job runs, so a retry sends one that still works."""
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from accounts.emails import primary_email
    from accounts.mail import send_templated_mail
    from packages.moderation import password_reset_url

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
            "url": password_reset_url(user=user),
            "hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
        },
    )
