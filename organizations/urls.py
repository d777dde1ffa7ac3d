from django.urls import path

from organizations.views import manage

urlpatterns = [
    path("manage/organizations/", manage.organizations, name="manage-organizations"),
    path(
        "manage/organization/<str:name>/",
        manage.settings_page,
        name="manage-organization",
    ),
    path(
        "manage/organization/<str:name>/delete/",
        manage.delete_organization,
        name="manage-org-delete",
    ),
    path("manage/organization/<str:name>/people/", manage.people, name="manage-org-people"),
    path("manage/organization/<str:name>/people/change/", manage.change_role),
    path("manage/organization/<str:name>/people/remove/", manage.remove_role),
    path("manage/organization/<str:name>/people/revoke-invite/", manage.revoke_invitation),
    path("manage/organization/<str:name>/teams/", manage.teams_page, name="manage-org-teams"),
    path(
        "manage/organization/<str:name>/team/<str:team_name>/",
        manage.team_page,
        name="manage-org-team",
    ),
    path(
        "manage/organization/<str:name>/team/<str:team_name>/remove-member/",
        manage.remove_team_member,
    ),
    path("manage/organization/<str:name>/team/<str:team_name>/delete/", manage.delete_team),
    path("manage/organization/<str:name>/history/", manage.history, name="manage-org-history"),
    path(
        "account/verify-organization-role/",
        manage.verify_organization_role,
        name="verify-organization-role",
    ),
]
