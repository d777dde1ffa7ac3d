"""Every route of the index. Apps own their views; this file only maps paths to them."""

from django.contrib import admin
from django.urls import path, re_path

from packages import views as packages
from uploads import views as uploads

urlpatterns = [
    # Upload (twine, uv publish).
    path("legacy/", uploads.legacy_upload, name="legacy-upload"),
    path("legacy", uploads.legacy_redirect),
    # Simple API (pip, uv).
    path("simple/", packages.simple_index, name="simple-index"),
    path("simple/<str:name>/", packages.simple_detail, name="simple-detail"),
    # Files: /packages/<b2[0:2]>/<b2[2:4]>/<b2[4:]>/<filename>[.metadata]
    re_path(
        r"^packages/(?P<key>[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{60}/[^/]+)$",
        packages.package_file,
        name="package-file",
    ),
    # JSON API.
    path("pypi/<str:name>/json", packages.json_project, name="json-project"),
    path("pypi/<str:name>/json/", packages.json_project),
    path("pypi/<str:name>/<str:version>/json", packages.json_project, name="json-release"),
    path("pypi/<str:name>/<str:version>/json/", packages.json_project),
    # Pages.
    path("project/<str:name>/", packages.project_detail, name="project-detail"),
    path("project/<str:name>/<str:version>/", packages.project_detail, name="release-detail"),
    path("admin/", admin.site.urls),
]
