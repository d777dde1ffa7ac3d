"""Finding projects: full-text search with typo tolerance on PostgreSQL, a plain fallback on
SQLite, classifier filters and two orders.

On PostgreSQL a word is looked up in one search document per project
(packages/search_documents.py, weighted name A, summary and keywords B, description D), and
every statement is bounded whatever the word, so a word in a third of all projects costs about
what a rare one does:

- the exact normalized name (unique b-tree) always ranks first;
- the matching documents are taken in a precomputed order (the project's live releases for
  relevance, its last serial for "Date last updated") and only the first CANDIDATES of them
  are ranked with ts_rank: PostgreSQL either walks that order's index and stops after enough
  matches (common words) or reads the few matches from the GIN index (rare words);
- trigram similarity of the normalized name catches typos (GIN `gin_trgm_ops`), only when the
  words matched little and for queries of four characters or more;
- the total is exact up to CANDIDATES matches and otherwise PostgreSQL's estimate from the
  document's statistics (the page says "about"), never a count of every match.
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
# Matching documents ranked for the first pages (a later page ranks as many as it needs).
CANDIDATES = 1_000
# Typos are looked for only when the words matched fewer projects than this.
TYPO_SEARCH_BELOW = PAGE_SIZE
TYPO_LIMIT = 100


class Order:
    RELEVANCE = ""
    UPDATED = "-created"  # PyPI's spelling of "Date last updated".

    choices = [(RELEVANCE, "Relevance"), (UPDATED, "Date last updated")]


# websearch_to_tsquery is immutable: written inline (not in a CTE) PostgreSQL folds it into a
# constant at plan time and estimates from the document's statistics how many projects match,
# which is what makes it choose between the ordered walk and the GIN index.
_TSQUERY = "websearch_to_tsquery('english'::regconfig, %(q)s)"
# Who may see a project: the same rule for every branch ({visibility_filter} is ReadScope's).
_PROJECT_FILTER = """p.lifecycle_status <> %(quarantined)s AND p.deleted_at IS NULL
    {visibility_filter} {classifier_filter}"""

_POSTGRES_MATCHES = f"""
WITH candidates AS MATERIALIZED (
    SELECT d.project_id, p.normalized_name, p.last_serial,
        ts_rank(d.document, {_TSQUERY}) AS rank
    FROM packages_searchdocument d JOIN packages_project p ON p.id = d.project_id
    WHERE d.document @@ {_TSQUERY} AND {_PROJECT_FILTER}
    ORDER BY {{candidate_order}}
    LIMIT %(candidates)s
),
hits AS (
    SELECT p.id AS project_id, p.normalized_name, p.last_serial, 100.0 AS score
    FROM packages_project p
    WHERE p.normalized_name = %(normalized)s AND {_PROJECT_FILTER}
  UNION ALL
    SELECT project_id, normalized_name, last_serial, rank + 1.0 FROM candidates
  UNION ALL
    (SELECT p.id, p.normalized_name, p.last_serial, similarity(p.normalized_name, %(normalized)s)
     FROM packages_project p
     WHERE char_length(%(normalized)s) >= 4
       AND (SELECT count(*) FROM candidates) < %(typo_below)s
       AND p.normalized_name %% %(normalized)s AND {_PROJECT_FILTER}
     LIMIT %(typo_limit)s)
)
-- Every branch carries the columns the order needs: no second visit to the projects.
SELECT project_id, count(*) OVER () AS found, (SELECT count(*) FROM candidates) AS candidates
FROM (
    SELECT project_id, normalized_name, last_serial, sum(score) AS score FROM hits
    GROUP BY project_id, normalized_name, last_serial
) s
ORDER BY {{order}}
LIMIT %(limit)s OFFSET %(offset)s
"""
# Past CANDIDATES matches, the planner's estimate of how many there are (from the document's
# statistics): counting them would read every match, which is what this design avoids.
_POSTGRES_ESTIMATED_TOTAL = f"""
EXPLAIN (FORMAT JSON)
SELECT 1 FROM packages_searchdocument d JOIN packages_project p ON p.id = d.project_id
WHERE d.document @@ {_TSQUERY} AND {_PROJECT_FILTER}
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
    # True when `total` is the planner's estimate (a common word), not a count.
    estimated: bool = False

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
    estimated = False
    if query and connection.vendor == "postgresql":
        ids, total, estimated = _postgres_ids(query, classifiers, order, offset, scope)
    else:
        ids, total = _portable_ids(query, classifiers, order, offset, scope)
    by_id = {p.pk: p for p in with_latest_release(Project.objects.filter(pk__in=ids))}
    return SearchPage(
        projects=[by_id[i] for i in ids if i in by_id],
        total=min(total, MAX_RESULTS),
        page=page,
        estimated=estimated,
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
    sql, params = _postgres_statement(
        _POSTGRES_MATCHES, query=query, classifiers=classifiers, order=order, scope=scope
    )
    params.update(
        limit=PAGE_SIZE,
        offset=offset,
        candidates=max(CANDIDATES, min(offset + PAGE_SIZE, MAX_RESULTS)),
    )
    return sql, params


def _postgres_statement(
    template: str, *, query: str, classifiers: list[str], order: str, scope: ReadScope
) -> tuple[str, dict]:
    params: dict = {
        "q": query,
        "normalized": search_normalized_name(query),
        "quarantined": LifecycleStatus.QUARANTINE_ENTER,
        "typo_below": TYPO_SEARCH_BELOW,
        "typo_limit": TYPO_LIMIT,
    }
    filters = []
    for i, classifier in enumerate(classifiers):
        params[f"classifier{i}"] = json.dumps([classifier])
        filters.append(_CLASSIFIER_FILTER.format(i=i))
    if order == Order.UPDATED:
        candidate_order = "p.last_serial DESC"
        ordering = "s.last_serial DESC"
    else:
        candidate_order = "d.popularity DESC"
        ordering = "s.score DESC, s.normalized_name"
    # The same rule as ReadScope.q(), for the one query written in SQL.
    visibility = ""
    if not scope.all_private:
        params["private_ids"] = sorted(scope.private_ids)
        visibility = "AND (NOT p.is_private OR p.id = ANY(%(private_ids)s))"
    sql = template.format(
        classifier_filter=" ".join(filters),
        order=ordering,
        candidate_order=candidate_order,
        visibility_filter=visibility,
    )
    return sql, params


def _postgres_ids(
    query: str, classifiers: list[str], order: str, offset: int, scope: ReadScope
) -> tuple[list[int], int, bool]:
    """1. The page, with how many projects it was chosen from and how many documents matched.
    2. When the candidates were cut off, the planner's estimate of all matches (an estimate:
       the page says "about")."""
    sql, params = explain_sql(
        query=query, classifiers=classifiers, order=order, offset=offset, scope=scope
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        if not rows and offset:
            cursor.execute(sql, {**params, "offset": 0, "limit": 1})
            rows_for_total = cursor.fetchall()
        else:
            rows_for_total = rows
    ids = [row[0] for row in rows]
    if not rows_for_total:
        return ids, 0, False
    _, found, candidates = rows_for_total[0]
    if candidates < params["candidates"]:
        return ids, found, False
    estimate_sql, estimate_params = _postgres_statement(
        _POSTGRES_ESTIMATED_TOTAL, query=query, classifiers=classifiers, order=order, scope=scope
    )
    with connection.cursor() as cursor:
        cursor.execute(estimate_sql, estimate_params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    estimate = int(plan[0]["Plan"]["Plan Rows"])
    # Never fewer than the candidates found, never more than anyone may page through.
    return ids, max(found, min(estimate, MAX_RESULTS)), True


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
