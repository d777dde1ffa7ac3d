"""The public website: home, search, project and release pages, user pages, classifiers."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache, caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.db.models import Max, Prefetch
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponsePermanentRedirect,
    QueryDict,
)
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_safe
from trove_classifiers import deprecated_classifiers, sorted_classifiers

from organizations.registration import find_organization
from packages import images, permissions
from packages.api import latest_release
from packages.forms import SearchForm
from packages.journal import last_serial
from packages.models import File, Project, Release, Role
from packages.releases import find_project, lookup_version
from packages.responses import make_private
from packages.search import Order, newest_releases, search_projects, with_latest_release
from packages.views.index import files_base_url, require_readable

COUNTS_CACHE_SECONDS = 300
NEWEST_RELEASES = 10


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    counts = [
        (f"{value:,}", key[:-1] if value == 1 else key) for key, value in site_counts().items()
    ]
    reader = permissions.reader_of(request)
    scope = permissions.readable_scope(user=reader.user, token=reader.token)
    context = {"counts": counts, "newest_releases": newest_releases(NEWEST_RELEASES, scope=scope)}
    return render(request, "packages/home.html", context)


def site_counts() -> dict[str, int]:
    """The home page's counts, the same on every app server.

    Exact counts of large tables are not free, so they are cached, but only in a cache that
    every process shares (Redis), under the journal's serial and the newest user's id: any
    upload, removal or registration changes the key, so no server shows numbers older than
    another's. A per-process cache (embedded mode's locmem) would let each gunicorn worker keep
    its own numbers; there the counts are read from the database every time.
    """

    def count() -> dict[str, int]:
        return {
            "projects": Project.objects.visible().filter(permissions.PUBLIC_SCOPE.q()).count(),
            "releases": Release.objects.count(),
            "files": File.objects.count(),
            "users": get_user_model().objects.filter(is_active=True).count(),
        }

    if not _cache_is_shared():
        return count()
    newest_user = get_user_model().objects.aggregate(m=Max("pk"))["m"] or 0
    key = f"site-counts:{last_serial()}:{newest_user}"
    return cache.get_or_set(key, count, COUNTS_CACHE_SECONDS)


def _cache_is_shared() -> bool:
    return not isinstance(caches["default"], LocMemCache | DummyCache)


@require_safe
def search(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET)
    params = form.parameters()
    results = None
    if params["query"] or params["classifiers"]:
        reader = permissions.reader_of(request)
        scope = permissions.readable_scope(user=reader.user, token=reader.token)
        results = search_projects(**params, scope=scope)
    return render(
        request,
        "packages/search.html",
        {
            "params": params,
            "results": results,
            "orders": Order.choices,
            "filter_groups": classifier_groups(FILTER_GROUPS),
            "previous_query": _search_query(params, page=params["page"] - 1),
            "next_query": _search_query(params, page=params["page"] + 1),
        },
    )


def _search_query(params: dict, *, page: int) -> str:
    query = QueryDict(mutable=True)
    query["q"] = params["query"]
    query.setlist("c", params["classifiers"])
    query["o"] = params["order"]
    query["page"] = str(page)
    return query.urlencode()


# Groups offered as filters beside the results; every other classifier is on /classifiers/.
FILTER_GROUPS = (
    "Development Status",
    "Intended Audience",
    "Operating System",
    "Programming Language",
    "Typing",
)


@require_safe
def classifiers(request: HttpRequest) -> HttpResponse:
    return render(request, "packages/classifiers.html", {"groups": classifier_groups()})


def classifier_groups(only: tuple[str, ...] = ()) -> list[tuple[str, list[tuple[str, str]]]]:
    """(group, [(classifier, label without the group)]) for the current trove classifiers."""

    def top(classifier: str) -> str:
        return classifier.split(" :: ", 1)[0]

    current = (c for c in sorted_classifiers if c not in deprecated_classifiers)
    return [
        (group, [(c, c.partition(" :: ")[2] or c) for c in members])
        for group, members in groupby(current, key=top)
        if not only or group in only
    ]


@require_safe
def project_detail(request: HttpRequest, name: str, version: str | None = None) -> HttpResponse:
    project = find_project(name)
    if project is None:
        raise Http404(f"No project named {name!r}")
    require_readable(request, project)
    page = project_page(project, version=version)
    if name != project.name or (version is not None and version != page.release.version):
        args = [project.name] if version is None else [project.name, page.release.version]
        target = reverse("project-detail" if version is None else "release-detail", args=args)
        return HttpResponsePermanentRedirect(target)
    can_manage = request.user.is_authenticated and not permissions.manage_denial(
        user=request.user, project=project
    )
    response = render(
        request,
        "packages/project_detail.html",
        {
            "project": project,
            "page": page,
            "release": page.release,
            "files_url": files_base_url(),
            "can_manage": can_manage,
        },
    )
    return make_private(response) if project.is_private else response


@dataclass(frozen=True)
class HistoryEntry:
    """One line of a project page's release history, with its link and dates already made:
    a 250-release history cost 60 ms in template lookups, `url` tags and `date` filters."""

    version: str
    url: str
    created_iso: str
    created_day: str
    is_prerelease: bool
    yanked: bool
    yanked_reason: str
    current: bool
    latest: bool


@dataclass
class ProjectPage:
    release: Release
    latest: Release
    releases: list[Release]
    history: list[HistoryEntry]
    files: list[File]
    roles: list[Role]
    links: list[tuple[str, str]]
    classifiers: list[tuple[str, list[tuple[str, str]]]]

    @property
    def is_latest(self) -> bool:
        return self.release.pk == self.latest.pk

    @property
    def description_html(self) -> str:
        return self.release.description_html


def project_page(project: Project, *, version: str | None) -> ProjectPage:
    """Everything a project page shows, in four queries whatever the number of releases:
    the history (without long text), the shown release in full, its files, the roles."""
    releases = list(
        Release.objects.filter(project=project)
        .only(
            "id",
            "project_id",
            "version",
            "canonical_version",
            "created",
            "yanked",
            "yanked_reason",
            "is_prerelease",
            "sort_order",
        )
        .order_by("-sort_order")
    )
    latest = latest_release(releases)
    if latest is None:
        raise Http404(f"Project {project.name!r} has no releases")
    shown = latest
    if version is not None:
        wanted = lookup_version(version)
        shown = next((r for r in releases if wanted and r.canonical_version == wanted), None)
        if shown is None:
            raise Http404(f"No release {version} of project {project.name!r}")
    release = Release.objects.prefetch_related(
        Prefetch("files", queryset=File.objects.order_by("packagetype", "filename"))
    ).get(pk=shown.pk)
    roles = list(
        Role.objects.filter(project=project)
        .select_related("user")
        .order_by("-role_name", "user__username")  # Owners first
    )
    return ProjectPage(
        release=release,
        latest=latest,
        releases=releases,
        history=release_history(project, releases, shown=release, latest=latest),
        files=list(release.files.all()),
        roles=roles,
        links=project_links(release),
        classifiers=grouped_classifiers(release.classifiers),
    )


def release_history(
    project: Project, releases: list[Release], *, shown: Release, latest: Release
) -> list[HistoryEntry]:
    """The history in the order given. Dates in UTC (TIME_ZONE), as the `date` filter gave."""
    entries = []
    for r in releases:
        created = timezone.localtime(r.created)
        entries.append(
            HistoryEntry(
                version=r.version,
                url=reverse("release-detail", args=[project.name, r.version]),
                created_iso=created.isoformat(),
                created_day=created.strftime("%Y-%m-%d"),
                is_prerelease=r.is_prerelease,
                yanked=r.yanked,
                yanked_reason=r.yanked_reason,
                current=r.pk == shown.pk,
                latest=r.pk == latest.pk,
            )
        )
    return entries


def project_links(release: Release) -> list[tuple[str, str]]:
    """(label, URL) pairs from the metadata; only http(s) URLs become links, since metadata is
    whatever the uploader typed (a `javascript:` URL must never reach an href)."""
    candidates = []
    if release.home_page:
        candidates.append(("Homepage", release.home_page))
    if release.download_url:
        candidates.append(("Download", release.download_url))
    if isinstance(release.project_urls, dict):
        candidates.extend(release.project_urls.items())
    return [
        (str(label), str(url))
        for label, url in candidates
        if urlsplit(str(url).strip()).scheme in {"http", "https"}
    ]


def grouped_classifiers(values: list) -> list[tuple[str, list[tuple[str, str]]]]:
    """A release's classifiers as (group, [(classifier, label without the group)])."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for classifier in values if isinstance(values, list) else []:
        top, _, rest = str(classifier).partition(" :: ")
        groups.setdefault(top, []).append((str(classifier), rest or top))
    return list(groups.items())


@require_safe
def help_page(request: HttpRequest) -> HttpResponse:
    """What each refusal message's `See <HELP_URL>#anchor` link explains."""
    context = {
        "upload_limit": settings.DEFAULT_UPLOAD_LIMIT,
        "total_size_limit": settings.DEFAULT_TOTAL_SIZE_LIMIT,
        "token_prefix": settings.API_TOKEN_PREFIX,
        "require_two_factor": settings.REQUIRE_TWO_FACTOR,
    }
    return render(request, "packages/help.html", context)


@require_safe
def image_proxy(request: HttpRequest, signature: str, encoded: str) -> HttpResponse:
    """An image from another host named in a description (see packages/images.py)."""
    try:
        image = images.fetch_image(images.verified_url(signature=signature, encoded=encoded))
    except images.ImageError as exc:
        return HttpResponse(
            exc.message, status=exc.status, content_type="text/plain; charset=utf-8"
        )
    response = HttpResponse(image.body, content_type=image.content_type)
    response["Cache-Control"] = f"public, max-age={images.CACHE_SECONDS}, immutable"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@require_safe
def user_detail(request: HttpRequest, username: str) -> HttpResponse:
    if "\x00" in username:  # no username has one, and PostgreSQL refuses it in a query
        raise Http404(f"No user named {username!r}")
    user = get_object_or_404(get_user_model(), username=username, is_active=True)
    reader = permissions.reader_of(request)
    scope = permissions.readable_scope(user=reader.user, token=reader.token)
    projects = with_latest_release(
        Project.objects.visible()
        .filter(scope.q())
        .filter(roles__user=user)
        .order_by("normalized_name")
    )
    return render(request, "packages/user_detail.html", {"profile": user, "projects": projects})


@require_safe
def organization_detail(request: HttpRequest, name: str) -> HttpResponse:
    """/org/<name>/: an approved organization's public page and its projects (quarantined ones
    left out, as on user pages; private ones only for those who may see them); any spelling of
    the name redirects to the one it has."""
    organization = find_organization(name)
    if organization is None or not organization.in_good_standing:
        raise Http404(f"No organization named {name!r}")
    if name != organization.name:
        return HttpResponsePermanentRedirect(
            reverse("organization-detail", args=[organization.name])
        )
    reader = permissions.reader_of(request)
    scope = permissions.readable_scope(user=reader.user, token=reader.token)
    projects = with_latest_release(
        Project.objects.visible()
        .filter(scope.q())
        .filter(organization=organization)
        .order_by("normalized_name")
    )
    context = {"organization": organization, "projects": projects}
    return render(request, "packages/organization_detail.html", context)
