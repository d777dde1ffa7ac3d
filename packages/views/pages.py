"""The public website: project pages."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from packages.releases import find_project


@require_safe
def project_detail(request: HttpRequest, name: str, version: str | None = None) -> HttpResponse:
    project = find_project(name)
    if project is None:
        raise Http404(f"No project named {name!r}")
    return render(request, "packages/project_detail.html", {"project": project})
