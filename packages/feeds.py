"""RSS feeds, as PyPI publishes them: newest releases, newest projects, one project's releases.

The site-wide feeds list public projects only (feed readers share them); a private project's
own feed is for those who may see it (packages/permissions.py), marked private.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.feedgenerator import Rss201rev2Feed

from packages import permissions
from packages.models import Project, Release
from packages.releases import find_project
from packages.responses import make_private
from packages.search import newest_projects, newest_releases

# The lengths PyPI uses.
UPDATES = 100
NEW_PROJECTS = 40
PROJECT_RELEASES = 40


class _XmlFeed(Rss201rev2Feed):
    content_type = "text/xml; charset=utf-8"


def _absolute(path: str) -> str:
    """Django's feeds prefix relative links with the request's Host; ours come from SITE_URL
    (a forged Host must not reach a feed reader or a cache)."""
    return f"{settings.SITE_URL}{path}"


class _ReleaseItems:
    def item_title(self, item: Release) -> str:
        return f"{item.project.name} {item.version}"

    def item_description(self, item: Release) -> str:
        return item.summary

    def item_link(self, item: Release) -> str:
        return _absolute(reverse("release-detail", args=[item.project.name, item.version]))

    def item_pubdate(self, item: Release) -> datetime:
        return item.created

    def item_author_email(self, item: Release) -> str:
        return item.author_email


class LatestUpdatesFeed(_ReleaseItems, Feed):
    feed_type = _XmlFeed
    title = "Package index: latest updates"
    description = "The newest releases on this index."

    def link(self) -> str:
        return _absolute("/")

    def feed_url(self) -> str:
        return _absolute(reverse("rss-updates"))

    def items(self) -> list[Release]:
        return list(newest_releases(UPDATES))


class NewestProjectsFeed(Feed):
    feed_type = _XmlFeed
    title = "Package index: newest packages"
    description = "The newest projects on this index."

    def link(self) -> str:
        return _absolute("/")

    def feed_url(self) -> str:
        return _absolute(reverse("rss-packages"))

    def items(self) -> list[Project]:
        return list(newest_projects(NEW_PROJECTS))

    def item_title(self, item: Project) -> str:
        return f"{item.name} added to the index"

    def item_description(self, item: Project) -> str:
        return ""

    def item_link(self, item: Project) -> str:
        return _absolute(reverse("project-detail", args=[item.name]))

    def item_pubdate(self, item: Project) -> datetime:
        return item.created


class ProjectReleasesFeed(_ReleaseItems, Feed):
    feed_type = _XmlFeed

    def __call__(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = super().__call__(request, *args, **kwargs)
        project = getattr(request, "feed_project", None)
        return make_private(response) if project is not None and project.is_private else response

    def get_object(self, request: HttpRequest, name: str) -> Project:
        project = find_project(name)
        if project is None or project.is_quarantined:
            raise Http404(f"No project named {name!r}")
        reader = permissions.reader_of(request)
        if permissions.see_project_denial(user=reader.user, project=project, token=reader.token):
            raise Http404(f"No project named {name!r}")
        request.feed_project = project
        return project

    def title(self, obj: Project) -> str:
        return f"Package index: recent updates for {obj.name}"

    def link(self, obj: Project) -> str:
        return _absolute(reverse("project-detail", args=[obj.name]))

    def feed_url(self, obj: Project) -> str:
        return _absolute(reverse("rss-project-releases", args=[obj.name]))

    def description(self, obj: Project) -> str:
        return f"Recent updates to the index for {obj.name}"

    def items(self, obj: Project) -> list[Release]:
        return list(
            Release.objects.filter(project=obj)
            .select_related("project")
            .only("version", "summary", "created", "author_email", "project__name")
            .order_by("-created")[:PROJECT_RELEASES]
        )
