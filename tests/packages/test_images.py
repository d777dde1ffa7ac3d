"""The image proxy for README images on other hosts, against a real HTTP server on loopback."""

from __future__ import annotations

import struct
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from packages import images
from packages.jobs import render_description
from packages.outbound import is_public
from packages.rendering import render_description as render
from tests.factories import make_project, make_release

pytestmark = pytest.mark.django_db


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


PNG = tiny_png()
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
ROUTES = {
    "/logo.png": (200, "image/png", PNG),
    "/logo.svg": (200, "image/svg+xml", SVG),
    "/page.html": (200, "text/html", b"<html></html>"),
    "/lying.png": (200, "image/png", b"<html><script>alert(1)</script></html>"),
    "/huge.png": (200, "image/png", PNG + b"\x00" * (images.MAX_BYTES + 1)),
    "/missing.png": (404, "text/plain", b"no"),
}


@pytest.fixture
def image_host(settings):
    """A tiny HTTP server in a thread, recording the headers each request came with."""
    settings.IMAGE_PROXY_ALLOW_PRIVATE = True
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(dict(self.headers))
            if self.path.startswith("/redirect-to/"):
                self.send_response(302)
                self.send_header("Location", self.path.removeprefix("/redirect-to/"))
                self.end_headers()
                return
            status, content_type, body = ROUTES[self.path]
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.seen = seen
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


def proxied(url: str) -> str:
    src = images.proxied_src(url)
    assert src is not None and src.startswith("/_img/")
    return src


def test_description_images_from_other_hosts_point_at_the_proxy():
    html = render(
        text="![logo](https://img.example/logo.png) ![local](docs/local.png)",
        content_type="text/markdown",
    )
    assert f'<img src="{proxied("https://img.example/logo.png")}" alt="logo">' in html
    assert '<img src="docs/local.png" alt="local">' in html
    assert "img.example" not in html.replace(b"https://img.example/logo.png".hex(), "")


def test_with_the_proxy_off_external_images_are_dropped(settings):
    settings.IMAGE_PROXY = False
    html = render(text="![logo](https://img.example/logo.png)", content_type="text/markdown")
    assert html == '<p><img alt="logo"></p>\n'


def test_proxy_serves_the_image_without_the_readers_headers(client, image_host):
    response = client.get(
        proxied(f"{image_host.url}/logo.png"),
        HTTP_COOKIE="sessionid=secret",
        HTTP_REFERER="http://testserver/project/demo/",
        HTTP_USER_AGENT="Reader/1.0",
        REMOTE_ADDR="203.0.113.9",
    )
    assert response.status_code == 200
    assert response.content == PNG
    assert response["Content-Type"] == "image/png"
    assert response["Cache-Control"] == f"public, max-age={images.CACHE_SECONDS}, immutable"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert "Set-Cookie" not in response
    (headers,) = image_host.seen
    assert headers["User-Agent"] == images.USER_AGENT
    sent = {name.lower() for name in headers}
    assert not sent & {"cookie", "referer", "x-forwarded-for", "forwarded"}
    assert "203.0.113.9" not in str(headers) and "Reader" not in str(headers)


def test_proxy_refuses_urls_it_did_not_sign(client, image_host):
    signature, encoded = proxied(f"{image_host.url}/logo.png").split("/")[2:]
    other = f"{image_host.url}/page.html".encode().hex()
    assert client.get(f"/_img/{signature}/{other}").status_code == 404
    assert client.get(f"/_img/{'0' * 64}/{encoded}").status_code == 404
    assert client.get(f"/_img/{signature}/zz").status_code == 404
    assert image_host.seen == []


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/logo.svg", 502, "The image host sent image/svg+xml, not an image."),
        ("/page.html", 502, "The image host sent text/html, not an image."),
        ("/lying.png", 502, "The image host's content is not image/png."),
        ("/huge.png", 502, "The image is larger than 5 MB."),
        ("/missing.png", 502, "The image host answered 404."),
        ("/redirect-to/file:///etc/passwd", 502, "The image host answered 302."),
    ],
)
def test_proxy_refuses_what_is_not_a_small_raster_image(client, image_host, path, status, message):
    response = client.get(proxied(f"{image_host.url}{path}"))
    assert response.status_code == status
    assert response.content.decode() == message
    assert response["Content-Type"] == "text/plain; charset=utf-8"


def test_proxy_follows_a_redirect_to_an_image(client, image_host):
    response = client.get(proxied(f"{image_host.url}/redirect-to/{image_host.url}/logo.png"))
    assert response.status_code == 200 and response.content == PNG


def test_proxy_refuses_loopback_and_private_hosts_by_default(client, image_host, settings):
    settings.IMAGE_PROXY_ALLOW_PRIVATE = False
    for url in (f"{image_host.url}/logo.png", "http://10.0.0.1/x.png", "http://[::1]/x.png"):
        response = client.get(proxied(url))
        assert response.status_code == 403, url
        assert "is not on the public internet" in response.content.decode()
    assert image_host.seen == []


def test_private_link_local_and_mapped_loopback_addresses_are_not_public():
    assert is_public("93.184.215.14") and not is_public("::ffff:127.0.0.1")
    assert not is_public("169.254.169.254") and not is_public("fd00::1")


def test_proxy_turned_off_answers_404(client, image_host, settings):
    src = proxied(f"{image_host.url}/logo.png")
    settings.IMAGE_PROXY = False
    assert client.get(src).status_code == 404
    assert image_host.seen == []


def test_project_page_shows_readme_images_through_the_proxy(client, image_host):
    url = f"{image_host.url}/logo.png"
    release = make_release(
        make_project(),
        "1.0",
        description=f"![logo]({url})",
        description_content_type="text/markdown",
    )
    render_description(release.pk)
    response = client.get("/project/demo/")
    src = proxied(url)
    assert f'<img src="{src}" alt="logo">' in response.content.decode()
    assert "img-src 'self'" in response["Content-Security-Policy"]
    assert client.get(src).content == PNG
