from django.urls import path

from uploads import views

urlpatterns = [
    path("legacy/", views.legacy_upload, name="legacy-upload"),
    path("legacy", views.legacy_without_slash),
]
