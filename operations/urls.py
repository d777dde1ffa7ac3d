from django.urls import path

from operations import views

urlpatterns = [
    path("_health/", views.liveness, name="health-live"),
    path("_health/ready", views.Readiness.as_view(), name="health-ready"),
    path("metrics", views.metrics, name="metrics"),
]
