"""The owners' webhook form: where to, which events, and an optional secret of their own."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.core.validators import URLValidator

from packages.outbound import is_public
from webhooks.models import EventKind


class SubscriptionForm(forms.Form):
    url = forms.CharField(
        max_length=2000,
        label="Payload URL",
        validators=[URLValidator(schemes=["http", "https"])],
        help_text="Receives a POST with a JSON body for each event. Redirects are not followed.",
        widget=forms.URLInput,
    )
    events = forms.MultipleChoiceField(
        choices=EventKind.choices,
        widget=forms.CheckboxSelectMultiple,
        label="Events",
    )
    secret = forms.CharField(
        required=False,
        min_length=16,
        max_length=200,
        label="Secret (optional)",
        help_text="Signs every delivery. Leave empty to have one generated; it is shown once.",
        widget=forms.PasswordInput(render_value=False),
    )

    def clean_url(self) -> str:
        url = self.cleaned_data["url"].strip()
        parts = urlsplit(url)
        if parts.username or parts.password:
            raise forms.ValidationError(
                "Put no credentials in the URL; check the signature header instead."
            )
        if not settings.WEBHOOKS_ALLOW_PRIVATE and _names_a_private_host(parts.hostname or ""):
            raise forms.ValidationError("Webhooks are only sent to hosts on the public internet.")
        return url


def _names_a_private_host(host: str) -> bool:
    """An early, clear refusal for the obvious cases; names are checked again, resolved, at
    every delivery (packages/outbound.py)."""
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return not is_public(host)
