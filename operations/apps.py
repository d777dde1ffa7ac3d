from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """What the people running the index look at: health checks, metrics, request ids in logs.
    The top layer: it may read every other app, and none of them imports it."""

    name = "operations"

    def ready(self) -> None:
        from django.core.signals import request_finished, request_started

        from operations.logs import clear_request_id

        request_started.connect(clear_request_id, dispatch_uid="operations.clear_request_id")
        request_finished.connect(clear_request_id, dispatch_uid="operations.clear_request_id_end")
