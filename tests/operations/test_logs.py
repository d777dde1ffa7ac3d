from __future__ import annotations

import io
import json
import logging

import pytest
from django.http import HttpResponse
from django.urls import include, path

from operations.logs import NO_REQUEST, JsonFormatter, RequestIdFilter

pytestmark = pytest.mark.django_db

logger = logging.getLogger("tests.operations.logs")


def logging_view(request):
    logger.warning("inside the view")
    return HttpResponse("ok")


# The site's own routes too: the 404 page links to them.
urlpatterns = [path("log/", logging_view), path("", include("pypi_site.urls"))]


@pytest.fixture
def json_lines():
    """A handler configured as settings.LOGGING's is with LOG_FORMAT=json."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)


def test_every_response_carries_a_fresh_request_id(client):
    first = client.get("/_health/")["X-Request-ID"]
    second = client.get("/_health/")["X-Request-ID"]
    assert len(first) == 32 and first != second


def test_a_sane_incoming_request_id_is_kept(client):
    response = client.get("/_health/", HTTP_X_REQUEST_ID="lb-4f2a.9:1")
    assert response["X-Request-ID"] == "lb-4f2a.9:1"


@pytest.mark.parametrize("offered", ["two words", "x" * 129, "inject\nline", 'quote"d', "", "é"])
def test_an_insane_incoming_request_id_is_replaced(client, offered):
    response = client.get("/_health/", HTTP_X_REQUEST_ID=offered)
    assert response["X-Request-ID"] != offered
    assert len(response["X-Request-ID"]) == 32


def test_json_log_lines_carry_the_request_id(client, settings, json_lines):
    settings.ROOT_URLCONF = __name__
    response = client.get("/log/", HTTP_X_REQUEST_ID="trace-me-1")
    missing = client.get("/not-here/", HTTP_X_REQUEST_ID="trace-me-2")
    assert missing.status_code == 404
    lines = json_lines()
    view_line = next(line for line in lines if line["message"] == "inside the view")
    assert view_line["request_id"] == response["X-Request-ID"] == "trace-me-1"
    assert view_line["level"] == "WARNING"
    assert view_line["logger"] == "tests.operations.logs"
    assert view_line["time"].endswith("+00:00")
    # Django logs "Not Found" after the middleware has returned: still the same request.
    not_found = next(line for line in lines if line["message"].startswith("Not Found"))
    assert not_found["request_id"] == "trace-me-2"


def test_lines_outside_requests_have_no_request_id(client, json_lines):
    client.get("/_health/")
    logger.warning("between requests")
    (line,) = [line for line in json_lines() if line["message"] == "between requests"]
    assert line["request_id"] == NO_REQUEST


def test_exceptions_are_one_json_line(json_lines):
    try:
        raise ValueError("broken")
    except ValueError:
        logger.exception("it failed")
    (line,) = json_lines()
    assert line["message"] == "it failed"
    assert "ValueError: broken" in line["exception"]


def test_log_format_is_checked():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "import django, os; django.setup()"],
        env={
            "DJANGO_SETTINGS_MODULE": "pypi_site.settings",
            "SECRET_KEY": "x",
            "LOG_FORMAT": "xml",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "LOG_FORMAT must be text or json" in result.stderr
