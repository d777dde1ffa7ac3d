"""PEP 740's Integrity API: GET /integrity/<project>/<version>/<filename>/provenance."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from attestations.models import Provenance
from attestations.provenance import MEDIA_TYPE
from packages import permissions
from packages.filenames import FilenameError, check_characters
from packages.releases import find_project, find_release

_SERVED = (MEDIA_TYPE, "application/json")


@require_safe
def provenance(request: HttpRequest, name: str, version: str, filename: str) -> HttpResponse:
    """The stored provenance object, byte for byte. 406 for an Accept that names neither
    media type (no Accept, or */*, gets the PEP 740 one); 404 for no such file, no
    provenance, or a project the reader may not see (a quarantined one)."""
    media_type = request.get_preferred_type(_SERVED)
    if media_type is None:
        return HttpResponse(
            f"Not Acceptable: this resource is served as {MEDIA_TYPE} or application/json.\n",
            status=406,
            content_type="text/plain",
        )
    project = find_project(name)
    reader = permissions.reader_of(request)
    # The files' rule: a private project's readers, a quarantined project's members and staff.
    if project is None or permissions.see_files_denial(
        user=reader.user, project=project, token=reader.token
    ):
        raise Http404("No such project")
    release = find_release(project=project, version=version)
    try:
        # A NUL could not even be looked up in PostgreSQL; no stored filename has one.
        check_characters(filename)
    except FilenameError:
        release = None
    row = (
        # Live files only: a deleted one's row stays for the point-in-time view.
        Provenance.objects.filter(
            file__release=release, file__filename=filename, file__deleted_at__isnull=True
        )
        .values_list("body", flat=True)
        .first()
        if release is not None
        else None
    )
    if row is None:
        raise Http404("No provenance for this file")
    response = HttpResponse(row, content_type=media_type)
    response["Vary"] = "Accept"
    return response
