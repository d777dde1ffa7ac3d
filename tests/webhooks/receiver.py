"""A webhook receiver for tests: a real HTTP server on loopback, in a thread, that checks each
delivery's signature the way README tells receivers to. No Django here (the e2e tests use it).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_valid: bool

    @property
    def payload(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    secret: str
    # Status codes to answer, in order; once used up, 200.
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    # Seconds to wait before answering (a slow receiver).
    delay: float = 0

    def wait_for(self, count: int, timeout: float = 20) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.received)


def verify(*, secret: str, body: bytes, header: str) -> bool:
    """What a receiver does (README, "Webhooks")."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


@contextlib.contextmanager
def running_receiver(secret: str, statuses: list[int] | None = None) -> Iterator[Receiver]:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            header = self.headers.get("X-Index-Signature-256", "")
            receiver.received.append(
                Received(
                    path=self.path,
                    headers=dict(self.headers),
                    body=body,
                    signature_valid=verify(secret=receiver.secret, body=body, header=header),
                )
            )
            status = receiver.statuses.pop(0) if receiver.statuses else 200
            time.sleep(receiver.delay)
            answer = f"answered {status}".encode()
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(
        url=f"http://127.0.0.1:{server.server_address[1]}/hook", secret=secret,
        statuses=list(statuses or []),
    )  # fmt: skip
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
