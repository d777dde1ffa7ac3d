"""Finding projects: full-text search with typo tolerance on PostgreSQL, a plain fallback on
SQLite, classifier filters and two orders.

On PostgreSQL every branch of a query starts from an index created by
packages/migrations/0002_search_indexes.py, so the cost follows the number of matches, not the
number of projects:

- the exact normalized name (unique b-tree), ranked first;
- words of the display name (GIN over `to_tsvector(name)`), weight A;
- trigram similarity of the normalized name for typos (GIN `gin_trgm_ops`), for queries of
  four characters or more (shorter ones share a trigram with too many names);
- words of any release's summary, keywords and description (GIN over one expression), ranked
  by summary (weight B) and keywords (weight C); a match in the description alone (weight D)
  only gets a small constant, because ranking it would mean re-reading every description.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.db import connection
from django.db.models import (
    Case,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)

from packages.models import LifecycleStatus, Origin, Project, Release
from packages.names import is_valid_name, normalize_name
from packages.permissions import PUBLIC_SCOPE, ReadScope

PAGE_SIZE = 20
# Like PyPI, never page past this many results: deep pages cost a lot and help nobody.
MAX_RESULTS = 10_000
# A word that most projects use ("python", "library") would otherwise make PostgreSQL rank
# every project. Each branch keeps at most this many matches; exact and name matches come from
# their own branches, so they still rank first.
BRANCH_LIMIT = MAX_RESULTS


class Order:
    RELEVANCE = ""
    UPDATED = "-created"  # PyPI's spelling of "Date last updated".

    choices = [(RELEVANCE, "Relevance"), (UPDATED, "Date last updated")]


# The same expressions as the indexes in migration 0002; PostgreSQL only uses an expression
# index when the query repeats the expression exactly.
PROJECT_NAME_DOCUMENT = "to_tsvector('english'::regconfig, p.name)"
RELEASE_DOCUMENT = (
    "to_tsvector('english'::regconfig, "
    "r.summary || ' ' || r.keywords || ' ' || left(r.description, 100000))"
)

_POSTGRES_MATCHES = f"""
WITH query AS (SELECT websearch_to_tsquery('english'::regconfig, %(q)s) AS tsq),
hits AS (
    SELECT p.id AS project_id, 100.0 AS score
    FROM packages_project p WHERE p.normalized_name = %(normalized)s
  UNION ALL
    (SELECT p.id, ts_rank(setweight({PROJECT_NAME_DOCUMENT}, 'A'), query.tsq) + 1.0
     FROM packages_project p, query WHERE {PROJECT_NAME_DOCUMENT} @@ query.tsq
     LIMIT %(branch_limit)s)
  UNION ALL
    (SELECT p.id, similarity(p.normalized_name, %(normalized)s)
     FROM packages_project p
     WHERE char_length(%(normalized)s) >= 4 AND p.normalized_name %% %(normalized)s
     LIMIT %(branch_limit)s)
  UNION ALL
    SELECT m.project_id, 0.01 + max(ts_rank(
        setweight(to_tsvector('english'::regconfig, m.summary), 'B')
        || setweight(to_tsvector('english'::regconfig, m.keywords), 'C'), m.tsq))
    FROM (
        SELECT r.project_id, r.summary, r.keywords, query.tsq
        FROM packages_release r, query
        WHERE {RELEASE_DOCUMENT} @@ query.tsq AND r.deleted_at IS NULL
        LIMIT %(branch_limit)s
    ) m
    GROUP BY m.project_id
),
scored AS (SELECT project_id, sum(score) AS score FROM hits GROUP BY project_id)
SELECT s.project_id, count(*) OVER () AS total
FROM scored s JOIN packages_project p ON p.id = s.project_id
WHERE p.lifecycle_status <> %(quarantined)s AND p.deleted_at IS NULL
    {{visibility_filter}} {{classifier_filter}}
ORDER BY {{order}}
LIMIT %(limit)s OFFSET %(offset)s
"""
_CLASSIFIER_FILTER = (
    "AND p.id IN (SELECT c.project_id FROM packages_release c "
    "WHERE c.classifiers @> %(classifier{i})s::jsonb AND c.deleted_at IS NULL)"
)


@dataclass(frozen=True)
class SearchPage:
    projects: list[Project]
    total: int
    page: int

    @property
    def num_pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    @property
    def has_next(self) -> bool:
        return self.page < self.num_pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def search_projects(
    *,
    query: str,
    classifiers: list[str],
    order: str = Order.RELEVANCE,
    page: int = 1,
    scope: ReadScope = PUBLIC_SCOPE,
) -> SearchPage:
    """One page of visible projects matching `query` and carrying every classifier.

    1. Find the page's project ids (and the total, capped at MAX_RESULTS).
    2. Load those projects with their latest release's version, summary and date.
    """
    query = query.strip()[:200]
    page = max(1, min(page, MAX_RESULTS // PAGE_SIZE))
    offset = (page - 1) * PAGE_SIZE
    if query and connection.vendor == "postgresql":
        ids, total = _postgres_ids(query, classifiers, order, offset, scope)
    else:
        ids, total = _portable_ids(query, classifiers, order, offset, scope)
    by_id = {p.pk: p for p in with_latest_release(Project.objects.filter(pk__in=ids))}
    return SearchPage(
        projects=[by_id[i] for i in ids if i in by_id], total=min(total, MAX_RESULTS), page=page
    )


def search_normalized_name(query: str) -> str:
    """What an exact-name match compares with: `Django REST` -> `django-rest`."""
    candidate = "-".join(query.split())
    return normalize_name(candidate) if is_valid_name(candidate) else candidate.lower()


def explain_sql(
    *,
    query: str,
    classifiers: list[str],
    order: str = Order.RELEVANCE,
    offset: int = 0,
    scope: ReadScope = PUBLIC_SCOPE,
) -> tuple[str, dict]:
    """The PostgreSQL statement and parameters behind one page of results (tests EXPLAIN it)."""
    params: dict = {
        "q": query,
        "normalized": search_normalized_name(query),
        "quarantined": LifecycleStatus.QUARANTINE_ENTER,
        "limit": PAGE_SIZE,
        "offset": offset,
        "branch_limit": BRANCH_LIMIT,
    }
    filters = []
    for i, classifier in enumerate(classifiers):
        params[f"classifier{i}"] = json.dumps([classifier])
        filters.append(_CLASSIFIER_FILTER.format(i=i))
    ordering = "p.last_serial DESC" if order == Order.UPDATED else "s.score DESC, p.normalized_name"
    # The same rule as ReadScope.q(), for the one query written in SQL.
    visibility = ""
    if not scope.all_private:
        params["private_ids"] = sorted(scope.private_ids)
        visibility = "AND (NOT p.is_private OR p.id = ANY(%(private_ids)s))"
    sql = _POSTGRES_MATCHES.format(
        classifier_filter=" ".join(filters), order=ordering, visibility_filter=visibility
    )
    return sql, params


def _postgres_ids(
    query: str, classifiers: list[str], order: str, offset: int, scope: ReadScope
) -> tuple[list[int], int]:
    sql, params = explain_sql(
        query=query, classifiers=classifiers, order=order, offset=offset, scope=scope
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows and offset:
        return [], _postgres_total(sql, params)
    return [row[0] for row in rows], rows[0][1] if rows else 0


def _postgres_total(sql: str, params: dict) -> int:
    """The total for a page past the end (the window count comes only with rows)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, {**params, "offset": 0, "limit": 1})
        row = cursor.fetchone()
    return row[1] if row else 0


def _portable_ids(
    query: str, classifiers: list[str], order: str, offset: int, scope: ReadScope
) -> tuple[list[int], int]:
    projects = portable_matches(query=query, classifiers=classifiers, order=order).filter(scope.q())
    ids = list(projects.values_list("pk", flat=True)[offset : offset + PAGE_SIZE])
    total = projects.order_by()[:MAX_RESULTS].count()
    return ids, total


def portable_matches(*, query: str, classifiers: list[str], order: str) -> QuerySet[Project]:
    """Browsing (no words) on any database, and the whole search on SQLite: substring matches
    on names, summaries and keywords, the exact name first."""
    projects = Project.objects.visible()
    for classifier in classifiers:
        projects = projects.filter(pk__in=_releases_with_classifier(classifier).values("project"))
    if query:
        releases = Release.objects.filter(
            Q(summary__icontains=query) | Q(keywords__icontains=query)
        )
        projects = projects.filter(
            Q(name__icontains=query)
            | Q(normalized_name__icontains=search_normalized_name(query))
            | Q(pk__in=releases.values("project"))
        )
    if order == Order.UPDATED or not query:
        return projects.order_by("-last_serial")
    exact = When(normalized_name=search_normalized_name(query), then=Value(1))
    return projects.annotate(
        exact=Case(exact, default=Value(0), output_field=IntegerField())
    ).order_by("-exact", "normalized_name")


def _releases_with_classifier(classifier: str) -> QuerySet[Release]:
    if connection.vendor == "postgresql":
        return Release.objects.filter(classifiers__contains=[classifier])
    # SQLite has no JSON containment; the JSON text of the list holds the quoted classifier.
    return Release.objects.filter(classifiers__icontains=json.dumps(classifier))


def latest_releases(project_ref: OuterRef | str = "pk") -> QuerySet[Release]:
    """A project's releases, best first: not yanked, then final, then highest (as PyPI)."""
    return Release.objects.filter(project=OuterRef(project_ref)).order_by(
        "yanked", "is_prerelease", "-sort_order"
    )


def with_latest_release(projects: QuerySet[Project]) -> QuerySet[Project]:
    """Annotate each project with its latest release's version, summary and upload time."""
    latest = latest_releases()
    return projects.annotate(
        latest_version=Subquery(latest.values("version")[:1]),
        latest_summary=Subquery(latest.values("summary")[:1]),
        latest_created=Subquery(latest.values("created")[:1]),
    )


def newest_releases(limit: int, *, scope: ReadScope = PUBLIC_SCOPE) -> QuerySet[Release]:
    """The latest releases of visible local projects, newest first: a backward scan of the index
    on `created` (migration 0002) that stops after `limit` rows, whatever the size of the index.
    Upstream projects the proxy cached are not this index's news."""
    return (
        Release.objects.exclude(project__lifecycle_status=LifecycleStatus.QUARANTINE_ENTER)
        .filter(project__origin=Origin.LOCAL)
        .filter(scope.q("project__"))
        .select_related("project")
        .defer("description", "description_html")
        .order_by("-created")[:limit]
    )


def newest_projects(limit: int, *, scope: ReadScope = PUBLIC_SCOPE) -> QuerySet[Project]:
    """Visible local projects that have a release, newest first (the index on `created`)."""
    has_release = Exists(Release.objects.filter(project=OuterRef("pk")))
    return (
        Project.objects.visible()
        .filter(scope.q())
        .filter(has_release, origin=Origin.LOCAL)
        .order_by("-created")[:limit]
    )
