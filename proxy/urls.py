"""Mounted before packages.urls: the same paths and names (so `reverse` and
the per-route metrics read as before), answered by proxy.views, which hands every request to
packages' views after filling from the upstream when that is configured."""

from django.urls import path, re_path

from proxy import views

urlpatterns = [
    path("simple/<str:name>/", views.simple_detail, name="simple-detail"),
    re_path(
        r"^packages/(?P<key>[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{60}/[^/]+)$",
        views.package_file,
        name="package-file",
    ),
    path("pypi/<str:name>/json", views.json_project, name="json-project"),
    path("pypi/<str:name>/json/", views.json_project),
    path("pypi/<str:name>/<str:version>/json", views.json_project, name="json-release"),
    path("pypi/<str:name>/<str:version>/json/", views.json_project),
]
