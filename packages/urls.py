from django.urls import path, re_path

from packages import feeds
from packages.views import collaboration, history, index, manage, pages

_FILE_KEY = r"(?P<key>[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{60}/[^/]+)"

urlpatterns = [
    # Simple API (pip, uv).
    path("simple/", index.simple_index, name="simple-index"),
    path("simple/<str:name>/", index.simple_detail, name="simple-detail"),
    # Files: /packages/<b2[0:2]>/<b2[2:4]>/<b2[4:]>/<filename>[.metadata]
    re_path(rf"^packages/{_FILE_KEY}$", index.package_file, name="package-file"),
    # JSON API.
    path("pypi/<str:name>/json", index.json_project, name="json-project"),
    path("pypi/<str:name>/json/", index.json_project),
    path("pypi/<str:name>/<str:version>/json", index.json_project, name="json-release"),
    path("pypi/<str:name>/<str:version>/json/", index.json_project),
    # The point-in-time view: the three above as they were at a moment (packages/history.py).
    path("as-of/<str:moment>/simple/", history.simple_index, name="as-of-simple-index"),
    path(
        "as-of/<str:moment>/simple/<str:name>/", history.simple_detail, name="as-of-simple-detail"
    ),
    re_path(
        rf"^as-of/(?P<moment>[^/]+)/packages/{_FILE_KEY}$",
        history.package_file,
        name="as-of-package-file",
    ),
    path("as-of/<str:moment>/pypi/<str:name>/json", history.json_project, name="as-of-json"),
    path("as-of/<str:moment>/pypi/<str:name>/json/", history.json_project),
    path(
        "as-of/<str:moment>/pypi/<str:name>/<str:version>/json",
        history.json_project,
        name="as-of-json-release",
    ),
    path("as-of/<str:moment>/pypi/<str:name>/<str:version>/json/", history.json_project),
    # Website.
    path("project/<str:name>/", pages.project_detail, name="project-detail"),
    path("project/<str:name>/<str:version>/", pages.project_detail, name="release-detail"),
    path("", pages.home, name="home"),
    path("search/", pages.search, name="search"),
    path("classifiers/", pages.classifiers, name="classifiers"),
    path("help/", pages.help_page, name="help"),
    re_path(r"^_img/(?P<signature>[0-9a-f]{64})/(?P<encoded>[0-9a-f]+)$", pages.image_proxy),
    path("user/<str:username>/", pages.user_detail, name="user-detail"),
    path("org/<str:name>/", pages.organization_detail, name="organization-detail"),
    path("rss/updates.xml", feeds.LatestUpdatesFeed(), name="rss-updates"),
    path("rss/packages.xml", feeds.NewestProjectsFeed(), name="rss-packages"),
    path(
        "rss/project/<str:name>/releases.xml",
        feeds.ProjectReleasesFeed(),
        name="rss-project-releases",
    ),
    # Owners' management.
    path("manage/projects/", manage.projects, name="manage-projects"),
    path(
        "manage/project/<str:name>/releases/",
        manage.project_releases,
        name="manage-project-releases",
    ),
    path(
        "manage/project/<str:name>/release/<str:version>/",
        manage.release_detail,
        name="manage-release",
    ),
    path(
        "manage/project/<str:name>/release/<str:version>/yank/",
        manage.yank,
        name="manage-release-yank",
    ),
    path(
        "manage/project/<str:name>/release/<str:version>/unyank/",
        manage.unyank,
        name="manage-release-unyank",
    ),
    path(
        "manage/project/<str:name>/release/<str:version>/delete/",
        manage.delete_release,
        name="manage-release-delete",
    ),
    path(
        "manage/project/<str:name>/release/<str:version>/file/<int:file_id>/delete/",
        manage.delete_file,
        name="manage-file-delete",
    ),
    path(
        "manage/project/<str:name>/settings/",
        manage.project_settings,
        name="manage-project-settings",
    ),
    path(
        "manage/project/<str:name>/visibility/",
        manage.project_visibility,
        name="manage-project-visibility",
    ),
    path("manage/project/<str:name>/history/", manage.history, name="manage-project-history"),
    path("manage/project/<str:name>/archive/", manage.archive, name="manage-project-archive"),
    path("manage/project/<str:name>/unarchive/", manage.unarchive, name="manage-project-unarchive"),
    path(
        "manage/project/<str:name>/settings/transfer/",
        manage.transfer_project,
        name="manage-project-transfer",
    ),
    path(
        "manage/organization/<str:name>/projects/",
        manage.organization_projects,
        name="manage-org-projects",
    ),
    path(
        "manage/organization/<str:name>/projects/remove/",
        manage.remove_organization_project,
        name="manage-org-remove-project",
    ),
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
        "manage/project/<str:name>/collaboration/team/",
        collaboration.set_team_role,
        name="manage-project-team-role",
    ),
    path(
        "manage/project/<str:name>/collaboration/team/remove/",
        collaboration.remove_team_role,
        name="manage-project-remove-team-role",
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
