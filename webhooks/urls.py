from django.urls import path

from webhooks import views

urlpatterns = [
    path(
        "manage/project/<str:name>/webhooks/",
        views.webhooks_page,
        name="manage-project-webhooks",
    ),
    path(
        "manage/project/<str:name>/webhooks/<int:subscription_id>/delete/",
        views.delete_webhook,
        name="manage-project-webhook-delete",
    ),
    path(
        "manage/project/<str:name>/webhooks/deliveries/<uuid:delivery_id>/redeliver/",
        views.redeliver,
        name="manage-project-webhook-redeliver",
    ),
]
