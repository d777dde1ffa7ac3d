"""Every app's routes, mounted at the site root. Each app keeps its own `urls.py`."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("uploads.urls")),
    path("", include("webhooks.urls")),
    path("", include("trusted_publishing.urls")),
    path("", include("attestations.urls")),
    # Before packages: the simple, JSON and file routes, filled from UPSTREAM_INDEX_URL first.
    path("", include("proxy.urls")),
    path("", include("packages.urls")),
    path("", include("organizations.urls")),
    path("", include("accounts.urls")),
    # Health probes and Prometheus metrics.
    path("", include("operations.urls")),
    path("admin/", admin.site.urls),
    # Queues, workers and failed jobs; every view requires a staff login.
    path("django-rq/", include("django_rq.urls")),
]
