"""Sending mail through Django's backend: files under DATA_DIR/mail embedded, SMTP when set.

Each message is two templates, `emails/<name>/subject.txt` and `emails/<name>/body.txt`.
"""

from __future__ import annotations

from django.core.mail import send_mail
from django.template.loader import render_to_string


def send_templated_mail(*, to: str, template: str, context: dict) -> None:
    subject = " ".join(render_to_string(f"emails/{template}/subject.txt", context).split())
    body = render_to_string(f"emails/{template}/body.txt", context)
    send_mail(subject, body, None, [to])
