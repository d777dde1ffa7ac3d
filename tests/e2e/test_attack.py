"""An attack replayed over real HTTP against a live gunicorn: bad bytes in every route's path,
broken and foreign credentials at /legacy/, and malformed uploads. No answer may be a 5xx.

Requests go out over a plain socket, byte for byte as written here: no client library gets to
re-quote a path, refuse a control character or fix a multipart body first.

Also runnable on its own, against a fresh server it starts (SQLite, or PostgreSQL with
DATABASE_URL set):

    SECRET_KEY=x .venv/bin/python -m tests.e2e.test_attack
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import socket
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.dists import make_wheel, upload_form
from tests.e2e.helpers import post_wheel, storage_key

pytestmark = pytest.mark.e2e

TARGET = "attack-target"
# The site's routes with a placeholder for each parameter (tests/packages/test_bad_input.py
# walks the resolver itself; this side must not import Django).
ROUTES = [
    "/simple/{name}/",
    "/pypi/{name}/json",
    "/pypi/{name}/{version}/json",
    "/project/{name}/",
    "/project/{name}/{version}/",
    "/user/{username}/",
    "/rss/project/{name}/releases.xml",
    "/packages/{key}",
    "/packages/{key}.metadata",
    "/manage/project/{name}/releases/",
    "/manage/project/{name}/release/{version}/",
    "/manage/project/{name}/release/{version}/yank/",
    "/manage/project/{name}/release/{version}/delete/",
    "/manage/project/{name}/release/{version}/file/1/delete/",
    "/manage/project/{name}/settings/",
    "/manage/project/{name}/history/",
    "/manage/project/{name}/archive/",
    "/manage/project/{name}/unarchive/",
    "/integrity/{name}/{version}/{token}/provenance",
    "/manage/project/{name}/collaboration/",
    "/manage/account/token/{identifier}/revoke/",
    "/account/verify-email/?token={token}",
    "/account/reset-password/?token={token}",
    "/account/verify-project-role/?token={token}",
    "/account/login/?next={token}",
    "/search/?q={token}&page={token}&o={token}&c={token}",
]
# Raw bytes for a path segment: percent-escapes and bytes no URL should contain.
BAD_SEGMENTS = [
    b"%00",
    b"de%00mo",
    b"%ff",
    b"demo%ff%fe",
    b"\xff\xfe",
    b"d\xc3\xa9mo",
    b"%01%1b%7f",
    b"%0d%0aX-Injected:1",
    b"..",
    b"%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    b"%25",
    b"%",
    b"%zz",
    b"a" * 3_000,
    b"1" * 3_000,
    b"a" * 10_000,  # past gunicorn's request-line limit: its own 400
    b"%c0%ae",
    b"\t",
]


@dataclass
class Tally:
    """Status codes per attack family; `server_errors` names every 5xx or unanswered request."""

    counts: dict[str, Counter] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)
    statuses: dict[str, int | None] = field(default_factory=dict)

    def record(self, family: str, label: str, status: int | None) -> None:
        self.counts.setdefault(family, Counter())[status or "no answer"] += 1
        if status is None or status >= 500:
            self.server_errors.append(f"{family}: {label}")
            self.statuses[f"{family}: {label}"] = status

    def summary(self) -> str:
        lines = []
        for family, counter in self.counts.items():
            total = sum(counter.values())
            spread = ", ".join(f"{code}: {n}" for code, n in sorted(counter.items(), key=str))
            lines.append(f"{family:>7}: {total:4d} requests ({spread})")
        total = sum(sum(c.values()) for c in self.counts.values())
        lines.append(f"  total: {total:4d} requests, {len(self.server_errors)} 5xx or unanswered")
        return "\n".join(lines)


def raw_request(url: str, method: bytes, target: bytes, headers: dict[bytes, bytes], body=b""):
    """Send one HTTP/1.1 request exactly as given; the status code, or None if none came."""
    parts = urlsplit(url)
    head = [method + b" " + target + b" HTTP/1.1", b"Host: " + parts.netloc.encode()]
    head += [name + b": " + value for name, value in headers.items()]
    head += [b"Content-Length: " + str(len(body)).encode(), b"Connection: close"]
    data = b"\r\n".join(head) + b"\r\n\r\n" + body
    with socket.create_connection((parts.hostname, parts.port), timeout=60) as sock:
        # The server may answer (a 4xx) before reading everything: then read that answer.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        received = b""
        try:
            while b"\r\n" not in received:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    status_line = received.split(b"\r\n", 1)[0].split()
    if len(status_line) >= 2 and status_line[1].isdigit():
        return int(status_line[1])
    return None


def multipart(
    fields: list[tuple[bytes, bytes]],
    files: list[tuple[bytes, bytes, bytes]],
    boundary: bytes = b"attackboundary7MA4YWxkTrZu0gW",
) -> tuple[bytes, bytes]:
    """(content type, body) of a form with raw-byte names and values."""
    body = b""
    for name, value in fields:
        body += b"--" + boundary + b"\r\n"
        body += b'Content-Disposition: form-data; name="' + name + b'"\r\n\r\n' + value + b"\r\n"
    for name, filename, content in files:
        body += b"--" + boundary + b"\r\n"
        body += (
            b'Content-Disposition: form-data; name="'
            + name
            + b'"; filename="'
            + filename
            + b'"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n"
        )
    body += b"--" + boundary + b"--\r\n"
    return b"multipart/form-data; boundary=" + boundary, body


def basic(credentials: bytes) -> bytes:
    return b"Basic " + base64.b64encode(credentials)


@dataclass
class Target:
    """What the attacks aim at: a real project, its file, and tokens."""

    url: str
    token: str
    other_token: str
    wheel_name: str
    wheel: bytes
    key: str

    def form(self, **overrides: bytes | None) -> list[tuple[bytes, bytes]]:
        fields = {
            k.encode(): v.encode()
            for k, v in upload_form(name=TARGET, version="1.0", content=self.wheel).items()
        }
        fields.update({k.encode(): v for k, v in overrides.items()})
        return [(k, v) for k, v in fields.items() if v is not None]


def path_attacks(target: Target) -> Iterator[tuple[str, bytes, dict, bytes]]:
    good = {
        "name": TARGET.encode(),
        "version": b"1.0",
        "username": b"e2e-admin",
        "key": target.key.encode(),
        "identifier": b"0123456789abcdef",
        "token": b"x",
    }
    for route in ROUTES:
        names = [p.split("}")[0] for p in route.split("{")[1:]]
        for param in dict.fromkeys(names):
            for bad in BAD_SEGMENTS:
                path = route.encode()
                for name in names:
                    value = bad if name == param else good[name]
                    path = path.replace(b"{" + name.encode() + b"}", value)
                for method in (b"GET", b"POST"):
                    yield f"{method.decode()} {path[:70]!r}", method, path, {}, b""


def auth_attacks(target: Target) -> Iterator[tuple[str, bytes, bytes, dict, bytes]]:
    content_type, body = multipart(
        target.form(), [(b"content", target.wheel_name.encode(), target.wheel)]
    )
    token_id = target.token.removeprefix("pypi-").split(".")[0].encode()
    authorizations = {
        "no scheme": b"garbage",
        "empty basic": b"Basic ",
        "bad base64": b"Basic !!!not*base64!!!",
        "bad padding": b"Basic YWJj=",
        "huge base64": b"Basic " + b"A" * 6_000,
        "non-utf8": basic(b"__token__:\xff\xfe\xfd"),
        "non-utf8 user": basic(b"\xff:" + target.token.encode()),
        "nul in token": basic(b"__token__:pypi-\x00\x00.\x00"),
        "nul after id": basic(b"__token__:pypi-" + token_id + b"\x00.x"),
        "no colon": basic(b"__token__"),
        "empty token": basic(b"__token__:"),
        "bare prefix": basic(b"__token__:pypi-"),
        "prefix and dot": basic(b"__token__:pypi-."),
        "garbage token": basic(b"__token__:garbage"),
        "long token": basic(b"__token__:pypi-" + b"a" * 4_000 + b"." + b"b" * 4_000),
        "wrong secret": basic(b"__token__:pypi-" + token_id + b".wrong"),
        "made-up id": basic(b"__token__:pypi-0000000000000000.secret"),
        "username+password": basic(b"e2e-admin:password"),
        "another user's token": basic(b"__token__:" + target.other_token.encode()),
        "bearer garbage": b"Bearer \x00\xff",
        "token scheme": b"token " + b"pypi-" + b"z" * 100,
        "digest": b'Digest username="__token__"',
        "huge header": b"Basic " + b"A" * 20_000,  # past gunicorn's header limit: its 400
    }
    for label, authorization in authorizations.items():
        headers = {b"Content-Type": content_type, b"Authorization": authorization}
        yield label, b"POST", b"/legacy/", headers, body
    yield "no authorization", b"POST", b"/legacy/", {b"Content-Type": content_type}, body


def upload_attacks(target: Target) -> Iterator[tuple[str, bytes, bytes, dict, bytes]]:
    auth = {b"Authorization": basic(b"__token__:" + target.token.encode())}
    wheel = (b"content", target.wheel_name.encode(), target.wheel)

    def post(label: str, fields, files, **kwargs):
        content_type, body = multipart(fields, files, **kwargs)
        return label, b"POST", b"/legacy/", {**auth, b"Content-Type": content_type}, body

    names = [name for name, _ in target.form()]
    for name in names:
        yield post(f"missing {name!r}", target.form(**{name.decode(): None}), [wheel])
        yield post(f"nul in {name!r}", target.form(**{name.decode(): b"1\x00" + name}), [wheel])
        yield post(f"non-utf8 {name!r}", target.form(**{name.decode(): b"\xff\xfe"}), [wheel])
        yield post(f"huge {name!r}", target.form(**{name.decode(): b"9" * 200_000}), [wheel])
    for extra in (b"summary", b"description", b"keywords", b"home_page", b"requires_dist"):
        yield post(f"huge {extra!r}", target.form() + [(extra, b"x" * 1_000_000)], [wheel])
        yield post(f"nul in {extra!r}", target.form() + [(extra, b"x\x00y")], [wheel])
    yield post("missing content", target.form(), [])
    yield post("nul filename", target.form(), [(b"content", b"a\x00.whl", target.wheel)])
    yield post("non-utf8 filename", target.form(), [(b"content", b"\xff.whl", target.wheel)])
    yield post("huge filename", target.form(), [(b"content", b"a" * 5_000 + b".whl", target.wheel)])
    yield post("path filename", target.form(), [(b"content", b"../../x.whl", target.wheel)])
    for action in (b"", b"bogus", b"submit", b"doc_upload", b"file_upload\x00", b"\xff"):
        yield post(f"action {action!r}", target.form(**{":action": action}), [wheel])
    for filetype in (b"bdist_egg", b"", b"sdist", b"x" * 10_000, b"bdist_wheel\x00"):
        yield post(f"filetype {filetype[:20]!r}", target.form(filetype=filetype), [wheel])
    text = b"this is not an archive\n" * 100
    for filename in (target.wheel_name.encode(), f"{TARGET.replace('-', '_')}-1.0.tar.gz".encode()):
        digests = {
            "md5_digest": hashlib.md5(text, usedforsecurity=False).hexdigest().encode(),
            "sha256_digest": hashlib.sha256(text).hexdigest().encode(),
            "blake2_256_digest": hashlib.blake2b(text, digest_size=32).hexdigest().encode(),
        }
        filetype = b"sdist" if filename.endswith(b".tar.gz") else b"bdist_wheel"
        fields = target.form(filetype=filetype, **digests)
        yield post(f"not an archive as {filename!r}", fields, [(b"content", filename, text)])
    good_type, good_body = multipart(target.form(), [wheel])
    broken = {
        "truncated body": (good_type, good_body[: len(good_body) // 2]),
        "wrong boundary": (b"multipart/form-data; boundary=nomatch", good_body),
        "no boundary": (b"multipart/form-data", good_body),
        "empty boundary": (b"multipart/form-data; boundary=", good_body),
        "huge boundary": (b"multipart/form-data; boundary=" + b"b" * 5_000, good_body),
        "not multipart": (b"application/x-www-form-urlencoded", b":action=file_upload&name=%00"),
        "json": (b"application/json", b'{"name": "x"}'),
        "garbage body": (good_type, b"\x00\xff" * 1000),
        "no closing": (good_type, good_body[: good_body.rindex(b"--attack")]),
        "headerless part": (good_type, b"--attackboundary7MA4YWxkTrZu0gW\r\n\r\nvalue\r\n"),
        "bad disposition": (
            good_type,
            b'--attackboundary7MA4YWxkTrZu0gW\r\nContent-Disposition: form-data; name="\xff\x00\r\n'
            b"\r\nx\r\n--attackboundary7MA4YWxkTrZu0gW--\r\n",
        ),
        "no content type": (b"", good_body),
    }
    for label, (content_type, body) in broken.items():
        headers = {**auth, b"Content-Type": content_type} if content_type else dict(auth)
        yield label, b"POST", b"/legacy/", headers, body
    yield "GET on legacy", b"GET", b"/legacy/?:action=file_upload", dict(auth), b""


def prepare(server) -> Target:
    """A project to aim at (one real wheel on the server) and a second user's token."""
    filename, content = make_wheel(TARGET, "0.1")
    other_token = server.create_user("attack-other")

    response = post_wheel(
        server.http,
        server.url,
        server.token,
        name=TARGET,
        version="0.1",
        filename=filename,
        content=content,
    )
    assert response.status_code == 200, response.text
    key = storage_key(hashlib.blake2b(content, digest_size=32).hexdigest(), filename)
    wheel_name, wheel = make_wheel(TARGET, "1.0")
    return Target(
        url=server.url,
        token=server.token,
        other_token=other_token,
        wheel_name=wheel_name,
        wheel=wheel,
        key=key,
    )


def attack(server) -> Tally:
    target = prepare(server)
    tally = Tally()
    families = {"path": path_attacks, "auth": auth_attacks, "upload": upload_attacks}
    for family, attacks in families.items():
        for label, method, path, headers, body in attacks(target):
            tally.record(family, label, raw_request(server.url, method, path, headers, body))
    return tally


@pytest.fixture(scope="module")
def attacked(index_server) -> Tally:
    tally = attack(index_server)
    print(f"\n{tally.summary()}")
    return tally


def test_attack_gets_no_server_error(attacked):
    errors = [f"{e} -> {attacked.statuses[e]}" for e in attacked.server_errors]
    assert not errors, "\n".join(errors[:50])
    # The attack really reached the application, not only gunicorn's parser.
    assert attacked.counts["path"][404] > 100
    assert attacked.counts["auth"][403] > 10
    assert attacked.counts["upload"][400] > 50


def main() -> int:
    from tests.e2e.servers import live_server_process

    with (
        tempfile.TemporaryDirectory() as root,
        live_server_process(Path(root)) as server,
    ):
        tally = attack(server)
        print(tally.summary())
        for line in tally.server_errors:
            print(f"{line} -> {tally.statuses[line] or 'no answer'}")
    return 1 if tally.server_errors else 0


if __name__ == "__main__":
    sys.exit(main())
