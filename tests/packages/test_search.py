from __future__ import annotations

import time
from io import StringIO

import pytest
from django.db import connection

from packages.models import Project, Release
from packages.search import PAGE_SIZE, search_projects
from packages.search_documents import rebuild_search_documents
from tests.factories import make_project, make_release

pytestmark = pytest.mark.django_db
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="full-text and trigram search need PostgreSQL"
)


def names(page) -> list[str]:
    return [p.name for p in page.projects]


def publish(name: str, summary: str = "", **fields) -> Project:
    project = make_project(name)
    make_release(project, "1.0", summary=summary, **fields)
    return project


def test_exact_name_comes_first(client):
    publish("requests-toolbelt", "Utilities for the requests library")
    publish("Requests", "HTTP for humans")
    publish("httpx", "A next-generation HTTP client, like requests")
    assert names(search_projects(query="requests", classifiers=[]))[0] == "Requests"
    assert names(search_projects(query="REQUESTS", classifiers=[]))[0] == "Requests"


def test_matches_summary_and_keywords():
    publish("alpha", "Parses TOML files")
    publish("beta", keywords="toml config")
    publish("gamma", "Unrelated")
    assert set(names(search_projects(query="toml", classifiers=[]))) == {"alpha", "beta"}


def test_quarantined_projects_are_not_found():
    publish("visible-thing", "thing")
    project = publish("hidden-thing", "thing")
    Project.objects.filter(pk=project.pk).update(lifecycle_status="quarantine-enter")
    assert names(search_projects(query="thing", classifiers=[])) == ["visible-thing"]


def test_deleted_projects_and_releases_are_not_found():
    """Their rows stay for the point-in-time view; search reads only live ones."""
    from packages.releases import delete_project, delete_release

    publish("kept-thing", "thing")
    delete_project(project=publish("deleted-thing", "thing"))
    old = publish("renamed", "thing")
    make_release(old, "2.0", summary="other", sort_order=1)
    delete_release(release=Release.objects.get(project=old, version="1.0"))
    assert names(search_projects(query="thing", classifiers=[])) == ["kept-thing"]
    assert set(names(search_projects(query="", classifiers=[]))) == {"kept-thing", "renamed"}


def test_classifier_filter_alone_and_with_words():
    django = "Framework :: Django"
    publish("one", "web thing", classifiers=[django, "Programming Language :: Python :: 3"])
    publish("two", "web thing", classifiers=["Framework :: Flask"])
    publish("three", "other", classifiers=[django])
    assert set(names(search_projects(query="", classifiers=[django]))) == {"one", "three"}
    assert names(search_projects(query="web", classifiers=[django])) == ["one"]
    both = [django, "Programming Language :: Python :: 3"]
    assert names(search_projects(query="", classifiers=both)) == ["one"]


def test_order_by_last_update():
    old, new = publish("old-widget", "widget"), publish("new-widget", "widget")
    Project.objects.filter(pk=old.pk).update(last_serial=1)
    Project.objects.filter(pk=new.pk).update(last_serial=2)
    assert names(search_projects(query="widget", classifiers=[], order="-created")) == [
        "new-widget",
        "old-widget",
    ]


def test_pagination_and_total():
    for i in range(PAGE_SIZE + 5):
        publish(f"widget-{i:02d}", "a widget")
    first = search_projects(query="widget", classifiers=[], page=1)
    second = search_projects(query="widget", classifiers=[], page=2)
    assert first.total == second.total == PAGE_SIZE + 5
    assert len(first.projects) == PAGE_SIZE and len(second.projects) == 5
    assert not set(names(first)) & set(names(second))
    assert first.has_next and not second.has_next and second.num_pages == 2


def test_results_show_the_latest_release():
    project = publish("demo", "old summary")
    make_release(project, "2.0", summary="new summary", sort_order=1)
    make_release(project, "3.0b1", summary="beta summary", sort_order=2)
    (found,) = search_projects(query="demo", classifiers=[]).projects
    assert (found.latest_version, found.latest_summary) == ("2.0", "new summary")


def test_search_page(client):
    publish("demo", "A demo package", classifiers=["Framework :: Django"])
    page = client.get("/search/", {"q": "demo"}).content.decode()
    assert 'href="/project/demo/"' in page and "A demo package" in page
    assert "1 project" in page
    page = client.get("/search/", {"c": "Framework :: Django"}).content.decode()
    assert 'href="/project/demo/"' in page
    assert 'name="c" value="Framework :: Django" checked' in page


def test_search_page_ignores_bad_parameters(client):
    publish("demo", "A demo package")
    response = client.get(
        "/search/", {"q": "demo", "c": "Not :: A :: Classifier", "o": "x", "page": "zz"}
    )
    assert response.status_code == 200
    assert 'href="/project/demo/"' in response.content.decode()
    assert "Type a few words" in client.get("/search/").content.decode()
    assert "No projects match" in client.get("/search/", {"q": "zzzzzz"}).content.decode()


def test_search_page_links_next_page_with_the_same_query(client):
    for i in range(PAGE_SIZE + 1):
        publish(f"widget-{i:02d}", "a widget", classifiers=["Framework :: Django"])
    page = client.get("/search/", {"q": "widget", "c": "Framework :: Django"}).content.decode()
    assert 'href="?q=widget&amp;c=Framework+%3A%3A+Django&amp;o=&amp;page=2"' in page


@postgres_only
def test_typos_find_the_project_by_trigram_similarity():
    publish("requests", "HTTP for humans")
    publish("flask", "A micro framework")
    assert names(search_projects(query="reqests", classifiers=[]))[0] == "requests"
    assert names(search_projects(query="flsk", classifiers=[])) == ["flask"]


@postgres_only
def test_description_words_are_found_on_postgres():
    publish("deep", "Summary", description="It can frobnicate gizmos.")
    assert names(search_projects(query="frobnicate", classifiers=[])) == ["deep"]
    assert names(search_projects(query="frobnicating", classifiers=[])) == ["deep"]  # stemmed


def _explain(sql_and_params: tuple[str, dict]) -> str:
    sql, params = sql_and_params
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def _copy_rows(model, template_id: int, overrides: dict[str, str], source: str) -> None:
    """INSERT ... SELECT copies of one template row, with SQL expressions for some columns."""
    columns = [f.column for f in model._meta.concrete_fields if f.column != "id"]
    values = [overrides.get(c, f"t.{c}") for c in columns]
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} "
            f"FROM {source}, {table} t WHERE t.id = %s",
            [template_id],
        )


@postgres_only
def test_search_uses_indexes_on_100000_projects(capsys):
    """The plan of every branch starts from an index (no sequential scan of projects or
    releases), and a search answers quickly."""
    from packages import search

    template = publish("template", "Summary")
    release = Release.objects.get()
    # Names like p1a2b3c4d5e6: unique words, so a name search matches one project.
    name = "'p' || substr(md5(i::text), 1, 11)"
    _copy_rows(
        Project,
        template.pk,
        {"name": name, "normalized_name": name, "ultranormalized_name": name, "last_serial": "i"},
        "generate_series(1, 100000) AS i",
    )
    _copy_rows(
        Release,
        release.pk,
        {
            "project_id": "p.id",
            "summary": "'Tools for ' || p.name || "
            "CASE WHEN mod(p.id, 1000) = 0 THEN ' and the rare quokka' ELSE '' END",
            "description": "'A longer description of ' || p.name || ' that says a few things.'",
        },
        "packages_project p JOIN (SELECT 1) AS one ON p.name <> 'template'",
    )
    rebuild_search_documents()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE packages_project")
        cursor.execute("ANALYZE packages_release")
        cursor.execute("ANALYZE packages_searchdocument")
    target = Project.objects.exclude(name="template").order_by("id")[5000].name
    typo = target[:-1] + ("x" if target[-1] != "x" else "y")
    for query in (target, typo, "quokka", "rare quokka tools"):
        plan = _explain(search.explain_sql(query=query, classifiers=[]))
        print(f"--- EXPLAIN for {query!r}\n{plan}")
        assert "Seq Scan on packages_project" not in plan, plan
        assert "Seq Scan on packages_release" not in plan, plan
        assert "Seq Scan on packages_searchdocument" not in plan, plan
    plan = _explain(search.explain_sql(query="quokka", classifiers=["Framework :: Django"]))
    assert "Seq Scan on packages_release" not in plan, plan

    started = time.perf_counter()
    assert names(search_projects(query=target, classifiers=[]))[0] == target
    assert names(search_projects(query=typo, classifiers=[]))[0] == target
    assert search_projects(query="quokka", classifiers=[]).total == 100
    elapsed = time.perf_counter() - started
    print(f"three searches over 100,000 projects: {elapsed * 1000:.0f} ms")
    assert elapsed < 2.0
    # The home page, the feeds and browsing read an index backwards and stop early.
    for queryset in (
        search.newest_releases(10),
        search.newest_projects(40),
        search.portable_matches(query="", classifiers=[], order="")[:20],
        search.portable_matches(query="", classifiers=["Framework :: Django"], order="")[:20],
    ):
        plan = queryset.explain()
        print(f"--- EXPLAIN {queryset.model.__name__} list\n{plan}")
        assert "Seq Scan" not in plan, plan
    # A word every project uses stays bounded too (CANDIDATES ranked, a count capped).
    started = time.perf_counter()
    assert search_projects(query="tools", classifiers=[]).total == search.MAX_RESULTS
    elapsed = time.perf_counter() - started
    print(f"a word in all 100,000 summaries: {elapsed * 1000:.0f} ms")
    assert elapsed < 2.0


@postgres_only
def test_search_document_follows_yanks_deletions_and_new_releases():
    """The document is the latest live release's words, rewritten by each journaled change."""
    from packages.releases import delete_release, yank_release
    from tests.factories import make_user

    owner = make_user()
    project = make_project("gadget", owner=owner)
    old = make_release(project, "1.0", summary="Speaks walrus", sort_order=10)
    new = make_release(project, "2.0", summary="Speaks narwhal", sort_order=20)
    assert names(search_projects(query="narwhal", classifiers=[])) == ["gadget"]
    assert names(search_projects(query="walrus", classifiers=[])) == []

    yank_release(release=new, reason="broken", user=owner)
    assert names(search_projects(query="walrus", classifiers=[])) == ["gadget"]
    assert names(search_projects(query="narwhal", classifiers=[])) == []

    delete_release(release=old, user=owner)
    assert names(search_projects(query="narwhal", classifiers=[])) == ["gadget"]
    delete_release(release=Release.objects.get(pk=new.pk), user=owner)
    # No release left: the name alone still finds the project.
    assert names(search_projects(query="narwhal", classifiers=[])) == []
    assert names(search_projects(query="gadget", classifiers=[])) == ["gadget"]


@postgres_only
def test_private_projects_match_only_for_their_readers():
    from packages.permissions import readable_scope
    from tests.factories import make_user

    owner = make_user()
    publish("open-thing", "A secretive walrus")
    make_project("hidden-thing", owner=owner, is_private=True)
    make_release(Project.objects.get(name="hidden-thing"), "1.0", summary="A secretive walrus")
    outsider = search_projects(query="walrus", classifiers=[])
    assert names(outsider) == ["open-thing"]
    assert outsider.total == 1
    assert names(search_projects(query="hidden", classifiers=[])) == []
    member = search_projects(query="walrus", classifiers=[], scope=readable_scope(user=owner))
    assert set(names(member)) == {"open-thing", "hidden-thing"}


def test_rebuild_search_index_command_writes_every_document():
    from django.core.management import call_command

    from packages.models import SearchDocument

    publish("walrus-tools", "Tusks")
    publish("narwhal-tools", "Horns")
    SearchDocument.objects.all().delete()
    out = StringIO()
    call_command("rebuild_search_index", "--dry-run", stdout=out)
    if connection.vendor != "postgresql":
        assert "Nothing to do" in out.getvalue()
        return
    assert "Would rewrite the search documents of 2 projects" in out.getvalue()
    assert not SearchDocument.objects.exists()
    assert names(search_projects(query="tusks", classifiers=[])) == []
    call_command("rebuild_search_index", "--batch-size", "1", stdout=out)
    assert "Rewrote 2 search documents." in out.getvalue()
    assert names(search_projects(query="tusks", classifiers=[])) == ["walrus-tools"]
    assert SearchDocument.objects.count() == 2
