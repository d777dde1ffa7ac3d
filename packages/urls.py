from django.urls import path, re_path

from packages.views import collaboration, index, pages

urlpatterns = [
    # Simple API (pip, uv).
    path("simple/", index.simple_index, name="simple-index"),
    path("simple/<str:name>/", index.simple_detail, name="simple-detail"),
    # Files: /packages/<b2[0:2]>/<b2[2:4]>/<b2[4:]>/<filename>[.metadata]
    re_path(
        r"^packages/(?P<key>[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{60}/[^/]+)$",
        index.package_file,
        name="package-file",
    ),
    # JSON API.
    path("pypi/<str:name>/json", index.json_project, name="json-project"),
    path("pypi/<str:name>/json/", index.json_project),
    path("pypi/<str:name>/<str:version>/json", index.json_project, name="json-release"),
    path("pypi/<str:name>/<str:version>/json/", index.json_project),
    # Website.
    path("project/<str:name>/", pages.project_detail, name="project-detail"),
    path("project/<str:name>/<str:version>/", pages.project_detail, name="release-detail"),
    # Collaborators.
    path(
        "manage/project/<str:name>/collaboration/",
        collaboration.collaboration_page,
        name="manage-project-collaboration",
    ),
    path(
        "manage/project/<str:name>/collaboration/change/",
        collaboration.change_role,
        name="manage-project-change-role",
    ),
    path(
        "manage/project/<str:name>/collaboration/delete/",
        collaboration.delete_role,
        name="manage-project-delete-role",
    ),
    path(
        "manage/project/<str:name>/collaboration/revoke-invite/",
        collaboration.revoke_invitation,
        name="manage-project-revoke-invite",
    ),
    path(
        "account/verify-project-role/",
        collaboration.verify_project_role,
        name="verify-project-role",
    ),
]
