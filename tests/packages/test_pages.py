from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.templatetags.static import static
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from packages.journal import record_change
from packages.models import Release, Role
from tests.factories import make_files, make_project, make_release, make_user

pytestmark = pytest.mark.django_db


def body(response) -> str:
    return response.content.decode()


def test_home_shows_counts_newest_releases_and_a_search_box(client):
    project = make_project("alpha", owner=make_user())
    release = make_release(project, "1.0", summary="First of all")
    make_files(release, 3)
    make_release(make_project("zzsecret", lifecycle_status="quarantine-enter"), "1.0")
    page = body(client.get("/"))
    assert re.search(r"<dd>1</dd>\s*</div>|<dd>1</dd>", page)
    assert "<dd>3</dd>" in page  # files
    assert 'action="/search/"' in page and 'name="q"' in page
    assert "alpha" in page and "First of all" in page
    assert "zzsecret" not in page


def home_counts(client) -> dict[str, str]:
    """Label (singular) -> shown number."""
    return {label.removesuffix("s"): value for value, label in client.get("/").context["counts"]}


def test_home_counts_with_a_per_process_cache_come_from_the_database(client, settings):
    """Embedded mode's locmem cache is one per gunicorn worker: cached counts would differ
    from worker to worker, so they are read fresh."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    make_release(make_project("one"), "1.0")
    assert home_counts(client)["project"] == "1"
    make_release(make_project("two"), "1.0")  # As another worker would have seen it.
    make_user("newcomer")
    counts = home_counts(client)
    assert (counts["project"], counts["release"], counts["user"]) == ("2", "2", "1")


def test_home_counts_are_cached_in_a_shared_cache_under_the_journal_serial(
    client, settings, tmp_path, django_assert_max_num_queries
):
    # A file-based cache stands for Redis: every process reads the same entries.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "cache"),
        }
    }
    project = make_project("one")
    make_release(project, "1.0")
    assert home_counts(client)["project"] == "1"
    with django_assert_max_num_queries(3):  # The serial, the newest user, the page's own.
        client.get("/")
    make_release(make_project("two"), "1.0")
    assert home_counts(client)["project"] == "1"  # Cached: nothing was journaled.
    with transaction.atomic():
        record_change(project=project, action="new release")
    assert home_counts(client)["project"] == "2"
    make_user("newcomer")  # Registration writes no journal row, but a new newest user.
    assert home_counts(client)["user"] == "1"


def test_project_page_redirects_to_the_display_spelling(client):
    make_release(make_project("Django.Thing"), "1.0")
    response = client.get("/project/django-thing/")
    assert response.status_code == 301
    assert response["Location"] == "/project/Django.Thing/"
    response = client.get("/project/django_thing/1.0.0/")
    assert response.status_code == 301
    assert response["Location"] == "/project/Django.Thing/1.0/"


def test_project_page_is_404_for_unknown_or_empty_projects(client):
    make_project("empty")
    assert client.get("/project/nothing/").status_code == 404
    assert client.get("/project/empty/").status_code == 404
    make_release(make_project("demo"), "1.0")
    assert client.get("/project/demo/9.9/").status_code == 404


def test_latest_is_the_highest_final_release_not_yanked(client):
    project = make_project()
    make_release(project, "1.0", sort_order=0, summary="one")
    make_release(project, "2.0", sort_order=1, summary="two", yanked=True, yanked_reason="broken")
    make_release(project, "3.0a1", sort_order=2, summary="three alpha")
    page = body(client.get("/project/demo/"))
    assert "<title>demo 1.0" in page
    assert "pip install --index-url http://testserver/simple/ demo</code>" in page
    # The history lists every release with its markers and reasons.
    history = page[page.index('id="history"') :]
    assert history.index(">3.0a1<") < history.index(">2.0<") < history.index(">1.0<")
    assert "pre-release" in page
    assert "Reason: broken" in page


def test_an_older_release_page_pins_the_version_and_says_so(client):
    project = make_project()
    make_release(project, "1.0", sort_order=0)
    make_release(project, "2.0", sort_order=1)
    page = body(client.get("/project/demo/1.0/"))
    assert "pip install --index-url http://testserver/simple/ demo==1.0</code>" in page
    assert "uv pip install --index-url http://testserver/simple/ demo==1.0</code>" in page
    assert "uv add --index http://testserver/simple/ demo==1.0</code>" in page
    assert "This is not the latest version" in page
    # The history: each release links to its page; the shown one is current, 2.0 the latest.
    history = page[page.index('id="history"') :]
    assert '<a href="/project/demo/1.0/" aria-current="page">' in history
    assert '<a href="/project/demo/2.0/">' in history
    latest = history[history.index('href="/project/demo/2.0/"') : history.index("</li>")]
    assert "badge--latest" in latest
    created = Release.objects.get(version="1.0").created
    assert f'<time datetime="{created.isoformat()}">{created:%Y-%m-%d}</time>' in history


def test_yanked_release_shows_a_notice_with_the_reason(client):
    make_release(make_project(), "1.0", yanked=True, yanked_reason="Security hole")
    page = body(client.get("/project/demo/1.0/"))
    assert "This release has been yanked" in page
    assert "Security hole" in page


def test_quarantined_project_shows_a_notice_and_no_files(client):
    project = make_project(lifecycle_status="quarantine-enter")
    make_files(make_release(project, "1.0"), 1)
    page = body(client.get("/project/demo/"))
    assert "This project is quarantined" in page
    assert "/packages/" not in page
    assert "pip install" not in page


def test_archived_project_shows_a_notice(client):
    make_release(make_project(lifecycle_status="archived"), "1.0")
    page = body(client.get("/project/demo/"))
    assert "This project is archived" in page
    assert "pip install --index-url" in page


def test_project_page_shows_files_hashes_links_classifiers_and_maintainers(client):
    owner = make_user("alice")
    project = make_project(owner=owner)
    Role.objects.create(user=make_user("bob"), project=project, role_name="Maintainer")
    release = make_release(
        project,
        "1.0",
        summary="A demo",
        requires_python=">=3.10",
        home_page="https://example.com/home",
        project_urls={"Source": "https://example.com/src", "Evil": "javascript:alert(1)"},
        classifiers=["Framework :: Django", "Programming Language :: Python :: 3"],
        license_expression="MIT",
    )
    (file,) = make_files(release, 1)
    page = body(client.get("/project/demo/"))
    assert file.filename in page
    assert f'href="http://testserver/packages/{file.path}"' in page
    for digest in (file.sha256_digest, file.md5_digest, file.blake2_256_digest):
        assert digest in page
    assert "1000\xa0bytes" in page  # filesizeformat of the size
    assert 'href="https://example.com/home"' in page and 'href="https://example.com/src"' in page
    assert "javascript:" not in page and "Evil" not in page
    assert "?c=Framework%20%3A%3A%20Django" in page
    assert "&gt;=3.10" in page
    assert 'href="/user/alice/"' in page and 'href="/user/bob/"' in page
    assert "MIT" in page


def test_copy_button_is_progressive_enhancement(client):
    make_release(make_project(), "1.0")
    page = body(client.get("/project/demo/"))
    button = '<button type="button" class="copy-button" data-copy="install-command" hidden>'
    assert button in page
    assert re.search(r'<script src="/static/js/site\.js" defer></script>', page)


def test_pages_have_no_inline_script_or_style(client):
    make_release(make_project(), "1.0", description="hi", description_content_type="text/plain")
    for url in ("/", "/project/demo/", "/search/?q=demo", "/classifiers/"):
        page = body(client.get(url))
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), url
        assert "<style" not in page and " style=" not in page, url


def test_project_page_queries_do_not_grow_with_releases(client):
    """Five queries for a project with 2 releases or with 200: project, releases, the shown
    release, its files and the roles."""
    owner = make_user()
    project = make_project(owner=owner)
    for i in range(2):
        make_files(make_release(project, f"0.{i}", sort_order=i), 2)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/project/demo/").status_code == 200
        return len(queries)

    count()  # warm the per-process caches (site flags)
    small = count()
    for i in range(2, 200):
        make_files(make_release(project, f"0.{i}", sort_order=i), 2)
    assert count() == small == 5
    client.force_login(owner)
    logged_in = count()
    for i in range(200, 210):
        make_release(project, f"0.{i}", sort_order=i)
    # Plus the session, the user and the permission check, still constant.
    assert count() == logged_in <= small + 6


def test_user_page_lists_public_projects(client):
    alice = make_user("alice")
    make_release(make_project("visible", owner=alice), "1.0", summary="On show")
    make_release(make_project("secret", owner=alice, lifecycle_status="quarantine-enter"), "1.0")
    page = body(client.get("/user/alice/"))
    assert "visible" in page and "On show" in page
    assert "secret" not in page
    assert client.get("/user/nobody/").status_code == 404


def test_classifiers_page_links_to_filtered_search(client):
    page = body(client.get("/classifiers/"))
    assert "Development Status :: 5 - Production/Stable" in page
    assert "/search/?c=Development%20Status%20%3A%3A%205%20-%20Production/Stable" in page


def test_header_links_for_visitors_and_users(client):
    page = body(client.get("/classifiers/"))
    for href in ("/search/", "/account/login/", "/account/register/"):
        assert f'href="{href}"' in page
    client.force_login(make_user())
    assert 'href="/manage/projects/"' in body(client.get("/classifiers/"))


def test_static_files_get_hashed_names(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    call_command("collectstatic", "--noinput", verbosity=0)
    assert re.fullmatch(r"/static/css/site\.[0-9a-f]{12}\.css", static("css/site.css"))
    assert (tmp_path / "static" / "css" / "site.css.gz").exists()


def test_release_dates_are_shown(client):
    release = make_release(make_project(), "1.0")
    page = body(client.get("/project/demo/"))
    assert timezone.localtime(release.created).strftime("%Y-%m-%d") in page


def test_list_pages_cost_a_fixed_number_of_queries(client, django_assert_max_num_queries):
    """Search results and user pages annotate the latest release in the same query."""
    alice = make_user("alice")
    for i in range(25):
        project = make_project(f"widget-{i:02d}", owner=alice)
        for n in range(5):
            make_release(project, f"1.{n}", sort_order=n, summary="a widget")
    client.get("/search/?q=widget")  # warm the per-process caches (site flags)
    with django_assert_max_num_queries(4):
        assert client.get("/search/?q=widget").status_code == 200
    with django_assert_max_num_queries(3):
        assert client.get("/user/alice/").status_code == 200


def test_not_found_and_forbidden_pages_use_the_site_layout(client):
    response = client.get("/project/nothing-here/")
    assert response.status_code == 404
    assert "Page not found" in body(response) and 'action="/search/"' in body(response)
    make_release(make_project("demo", owner=make_user("alice")), "1.0")
    client.force_login(make_user("mallory"))
    response = client.get("/manage/project/demo/releases/")
    assert response.status_code == 403
    assert "isn&#x27;t an Owner of project &#x27;demo&#x27;" in body(response)


def test_install_commands_name_this_index(client, settings):
    settings.SITE_URL = "https://index.example"
    make_release(make_project("Demo"), "1.0")
    page = body(client.get("/project/Demo/"))
    assert (
        '<code class="install__command" id="install-command" aria-labelledby="install-label">'
        "pip install --index-url https://index.example/simple/ Demo</code>"
    ) in page
    assert "uv pip install --index-url https://index.example/simple/ Demo</code>" in page
    assert "uv add --index https://index.example/simple/ Demo</code>" in page
    assert page.count('class="copy-button"') == 3
