"""Probes and metrics for whoever runs the index: load balancers, orchestrators, Prometheus."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.cache import never_cache
from health_check.views import HealthCheckView

from operations import exposition
from operations.health import check_readiness


@never_cache
def liveness(request: HttpRequest) -> HttpResponse:
    """The process answers requests. Touches no database, cache or storage: an outage there
    must not get every app server restarted."""
    return JsonResponse({"status": "ok"})


class Readiness(HealthCheckView):
    """Each dependency by name with ok or error and its latency; 503 when one fails, so a load
    balancer stops sending this server traffic it cannot serve. JSON whatever the Accept header
    (the library would negotiate HTML, feeds and a 500)."""

    async def get(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        readiness = await check_readiness()
        return JsonResponse(
            {"status": "ok" if readiness.ready else "error", "checks": readiness.checks},
            status=200 if readiness.ready else 503,
        )


def metrics(request: HttpRequest) -> HttpResponse:
    if (status := exposition.metrics_denial(request)) is not None:
        return HttpResponse(status=status)
    body, content_type = exposition.render(accept=request.META.get("HTTP_ACCEPT", ""))
    response = HttpResponse(body, content_type=content_type)
    add_never_cache_headers(response)
    return response
