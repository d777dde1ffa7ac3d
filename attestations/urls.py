from __future__ import annotations

from django.urls import path

from attestations import views

urlpatterns = [
    # PEP 740; packages.simple.provenance_url builds these URLs for the simple API.
    path(
        "integrity/<str:name>/<str:version>/<str:filename>/provenance",
        views.provenance,
        name="integrity-provenance",
    ),
]
