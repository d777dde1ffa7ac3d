from django.urls import path

from trusted_publishing import views

urlpatterns = [
    path("_/oidc/audience", views.audience, name="oidc-audience"),
    path("_/oidc/mint-token", views.mint_token, name="oidc-mint-token"),
    path("_/oidc/burn-token", views.burn_token, name="oidc-burn-token"),
    path(
        "manage/project/<str:name>/publishing/",
        views.project_publishing,
        name="manage-project-publishing",
    ),
    path(
        "manage/project/<str:name>/publishing/<int:publisher_id>/remove/",
        views.remove_project_publisher,
        name="manage-project-publisher-remove",
    ),
    path("manage/account/publishing/", views.account_publishing, name="manage-account-publishing"),
    path(
        "manage/account/publishing/<int:pending_id>/remove/",
        views.remove_pending_publisher,
        name="manage-account-pending-remove",
    ),
]
