"""Webhooks end to end: a real `twine upload` to a live gunicorn server makes a receiver on
loopback get a correctly signed "file uploaded" delivery.

The server runs its jobs inline (REDIS_URL and its CACHE_KEY_PREFIX unset for it), which is
what a default install does;
the queue path, with a real rqworker retrying a failing receiver, is
tests/webhooks/test_queue.py (a worker here would share the queue with the session's other
live servers and run their jobs against this server's database).
"""

from __future__ import annotations

import json

from tests.dists import make_wheel
from tests.e2e.helpers import twine_upload
from tests.e2e.servers import live_server_process
from tests.webhooks.receiver import running_receiver

SECRET = "e2e-webhook-secret-0123456789"


def test_a_twine_upload_delivers_a_signed_file_uploaded_payload(tmp_path):
    filename, content = make_wheel("e2e-hooked", "1.0")
    wheel = tmp_path / filename
    wheel.write_bytes(content)
    with (
        running_receiver(SECRET) as receiver,
        live_server_process(
            tmp_path / "server", WEBHOOKS_ALLOW_PRIVATE="1", REDIS_URL="", CACHE_KEY_PREFIX=""
        ) as server,
    ):
        server.shell(
            "from webhooks.models import Subscription; Subscription.objects.create("
            f"all_projects=True, url={receiver.url!r}, secret={SECRET!r}, "
            "events=['file.uploaded', 'release.published'])"
        )
        twine_upload(server.url, server.token, wheel)
        received = receiver.wait_for(2)
        rows = server.shell(
            "import json; from webhooks.models import Delivery; print(json.dumps(list("
            "Delivery.objects.order_by('created')"
            ".values_list('event', 'status', 'status_code'))))"
        )
        log = json.loads(rows.strip().splitlines()[-1])
    assert [r.headers["X-Index-Event"] for r in received] == ["file.uploaded", "release.published"]
    assert all(r.signature_valid for r in received), [r.headers for r in received]
    uploaded = received[0].payload
    assert uploaded["delivery"] == received[0].headers["X-Index-Delivery"]
    assert (uploaded["project"], uploaded["version"], uploaded["filename"]) == (
        "e2e-hooked",
        "1.0",
        filename,
    )
    assert uploaded["actor"] == server.username
    assert log == [["file.uploaded", "delivered", 200], ["release.published", "delivered", 200]]
