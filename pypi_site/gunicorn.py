"""gunicorn settings used by `make run` and the benchmark: threads keep slow clients
(large file downloads) from tying up a whole worker process."""

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", 4))
timeout = 300
accesslog = os.environ.get("ACCESS_LOG") or None
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
    django.setup()
    output = io.StringIO()
    call_command("clean_upload_temp", "--min-age-hours", "24", stdout=output)
    server.log.info(output.getvalue().strip().splitlines()[-1])
