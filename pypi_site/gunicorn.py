"""gunicorn settings used by `make run` and the benchmark: threads keep slow clients
(large file downloads) from tying up a whole worker process."""

import multiprocessing
import os
from pathlib import Path

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", 4))
timeout = 300
accesslog = os.environ.get("ACCESS_LOG") or None
# gunicorn's default line, then the request id (operations/middleware.py), which app log lines
# carry too.
access_log_format = (
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %({x-request-id}o)s'
)
# Several instances may run on one machine (tests, the benchmark); a shared control socket in
# $HOME would make them step on each other.
control_socket_disable = True


def on_starting(server) -> None:
    """Before any worker starts: delete temporary upload files that killed workers left behind,
    by running `manage.py clean_upload_temp` (named, not imported: pypi_site sits below the
    apps)."""
    import io

    import django
    from django.core.management import call_command

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pypi_site.settings")
    _prepare_metrics_directory(server)
    django.setup()
    output = io.StringIO()
    call_command("clean_upload_temp", "--min-age-hours", "24", stdout=output)
    server.log.info(output.getvalue().strip().splitlines()[-1])


def _prepare_metrics_directory(server) -> None:
    """Prometheus multi-process mode: every worker writes its metric values to files in one
    directory and `/metrics` adds them up (pypi_site/metrics.py). The variable must be set
    before any process imports prometheus_client (it picks its value store at import), hence
    here, before django.setup() and before the workers fork. Files of a previous run are
    deleted: their counts belong to processes that no longer exist."""
    from django.conf import settings  # Reads pypi_site/settings.py only; no app is loaded.

    directory = Path(
        os.environ.get("PROMETHEUS_MULTIPROC_DIR") or Path(settings.DATA_DIR) / "prometheus"
    )
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    server.log.info("Prometheus metrics in %s", directory)


def child_exit(server, worker) -> None:
    """A dead worker's live gauges must stop counting; its counters are kept (they happened)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def pre_request(worker, req) -> None:
    """Close the connection after a POST, an upload above all (the answer says
    `Connection: close`). With keep-alive, a client's next upload goes to the worker that took
    its connection, so a few clients uploading many files (twine, CI jobs) pile onto one or two
    workers, one GIL each, while others sit idle: per-worker CPU of [0, 0, 15.3, 7.3] s over
    1,000 uploads by four clients. A new connection is taken by whichever worker is free first.
    Reads keep their connections: they are short, and pip fetches many pages over one. The
    website's form POSTs are rare enough that a new connection costs them nothing."""
    if req.method == "POST":
        req.must_close = True


def post_worker_init(worker) -> None:
    """Move what the worker loaded at start (Django, the apps, the URLconf: most of its
    objects) out of the garbage collector's sight. A full collection walks every tracked
    object; at about 150,000 of them it took 90-110 ms, a read's p99 ten times its p50.
    What is frozen lives as long as the worker anyway."""
    import gc

    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (loaded now, so it is frozen too)
    gc.collect()
    gc.freeze()
