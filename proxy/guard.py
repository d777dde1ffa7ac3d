"""The dependency-confusion guard: a new local project may not take a name the upstream has,
unless staff allowed that name (AllowedLocalName, with a reason). Uploads ask here before they
create a project; a name answered by the upstream's mirrored copy makes way for the allowed
local project (the copy is purged, never merged)."""

from __future__ import annotations

from django.conf import settings

from packages.models import Project
from packages.names import lookup_name
from packages.permissions import Denial
from proxy import mirror, upstream
from proxy.models import AllowedLocalName, UpstreamProject


def exists_upstream(normalized: str) -> bool:
    """Whether the upstream lists the project (a fetch when the copy is older than the TTL).
    Raises upstream.UpstreamError when it cannot tell."""
    resolved = mirror.resolve(normalized)
    if resolved.error:
        raise upstream.UpstreamError(resolved.error)
    return resolved.project is not None or bool(resolved.blocked)


def new_local_project_denial(name: str) -> Denial | None:
    """None if a local project may be created under `name`. Fails closed: when the upstream
    cannot be asked, the name is refused for now."""
    if not upstream.enabled():
        return None
    normalized = lookup_name(name)
    if normalized is None or AllowedLocalName.objects.filter(normalized_name=normalized).exists():
        return None
    help_text = (
        "Creating it here would let installers mistake one for the other (dependency "
        "confusion); ask the index's staff to allow the name if this is intended. "
        f"See {settings.HELP_URL}#project-name for more information."
    )
    try:
        if not exists_upstream(normalized):
            return None
    except upstream.UpstreamError:
        return Denial(
            f"The name {name!r} could not be checked against the upstream index; try again "
            f"later. {help_text}"
        )
    return Denial(f"The name {name!r} is a project on the upstream index. {help_text}")


def make_way_for_local(project: Project) -> Denial | None:
    """Called when an upload names a project that is the upstream's mirrored copy: refused
    unless staff allowed the name, in which case the copy is purged so the upload creates the
    local project."""
    denial = new_local_project_denial(project.name)
    if denial is not None:
        return denial
    state, _ = UpstreamProject.objects.get_or_create(normalized_name=project.normalized_name)
    if state.project_id is None:
        state.project = project
    mirror.purge(state=state, action="a local project takes the name (allowed by staff)")
    return None
