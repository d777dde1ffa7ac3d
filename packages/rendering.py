"""Turning a release's long description into safe HTML, as Warehouse does with readme_renderer.

The result is stored on the release (see packages/jobs.py) so a project page never renders
Markdown or reStructuredText on a request.
"""

from __future__ import annotations

import functools
import json
from types import ModuleType
from urllib.parse import urlsplit

import nh3
import readme_renderer.markdown
import readme_renderer.rst
import readme_renderer.txt
from django.utils.html import escape
from readme_renderer.clean import ALLOWED_ATTRIBUTES, ALLOWED_TAGS

from packages.images import proxied_src

# PEP 566 / core metadata: Description-Content-Type is text/plain, text/x-rst or
# text/markdown; missing means reStructuredText, anything else is shown as plain text.
_RENDERERS = {
    "": readme_renderer.rst,
    "text/x-rst": readme_renderer.rst,
    "text/markdown": readme_renderer.markdown,
    "text/plain": readme_renderer.txt,
}
_MARKDOWN_VARIANTS = {"GFM", "CommonMark"}


def parse_content_type(value: str) -> tuple[str, dict[str, str]]:
    """`text/markdown; charset=UTF-8; variant=GFM` -> ("text/markdown", {"variant": "GFM", ...})."""
    media, *params = (part.strip() for part in (value or "").split(";"))
    parameters = {}
    for param in params:
        key, _, val = param.partition("=")
        if key.strip():
            parameters[key.strip().lower()] = val.strip().strip('"')
    return media.lower(), parameters


def render_description(*, text: str, content_type: str) -> str:
    """Sanitized HTML for a description.

    1. Pick readme_renderer's renderer from the content type (reStructuredText by default).
    2. Fall back to plain text when the markup does not render (invalid RST returns None).
    3. Clean the result once more with nh3 whatever the renderer did, so no script, event
       handler, style or unsafe URL scheme can reach the page even if a renderer changes.
    """
    if not text:
        return ""
    media, parameters = parse_content_type(content_type)
    renderer = _RENDERERS.get(media, readme_renderer.txt)
    variant = parameters.get("variant", "GFM")
    rendered = render_markup(
        text=text,
        renderer=renderer,
        variant=variant if variant in _MARKDOWN_VARIANTS else "GFM",
    )
    if rendered is None:
        renderer, rendered = readme_renderer.txt, readme_renderer.txt.render(text)
    if renderer is readme_renderer.txt:
        # Keep the author's line breaks and spacing, as Warehouse does.
        rendered = f'<pre class="plain-description">{rendered or escape(text)}</pre>'
    return sanitize_html(rendered or "")


def render_markup(*, text: str, renderer: ModuleType, variant: str = "GFM") -> str | None:
    """readme_renderer's HTML for `text` (not yet sanitized), or None when the markup does not
    render. The last few results are kept in the process: an upload's "description renders"
    check and the job that renders the new release (inline right after it in the embedded
    default), and the several files of one release, render a description once, not each time
    (reStructuredText costs tens of milliseconds)."""
    if renderer is readme_renderer.markdown:
        return _render_cached(renderer, variant, text)
    return _render_cached(renderer, "", text)


@functools.lru_cache(maxsize=8)
def _render_cached(renderer: ModuleType, variant: str, text: str) -> str | None:
    if variant:
        return renderer.render(text, variant=variant)
    return renderer.render(text)


def sanitize_html(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_proxy_images,
        link_rel="nofollow noopener",
        url_schemes={"http", "https", "mailto"},
        set_tag_attribute_values={"input": {"disabled": ""}},
    )


def _proxy_images(tag: str, attribute: str, value: str) -> str | None:
    """Images from other hosts go through this site's image proxy (packages/images.py); with
    the proxy off their src is dropped, leaving the alt text. Relative srcs stay as they are."""
    if tag == "img" and attribute == "src" and urlsplit(value.strip()).scheme:
        return proxied_src(value.strip())
    return value


# Interpreter names seen in upload clients' User-Agent headers, spelled as people write them.
_PYTHON_IMPLEMENTATIONS = {
    "cpython": "CPython",
    "pypy": "PyPy",
    "graalpy": "GraalPy",
    "python": "Python",
}
_USER_AGENT_FALLBACK_LENGTH = 60


def describe_user_agent(raw: str) -> str:
    """A User-Agent as people read it: `twine/6.1.0 requests/2.32 ... CPython/3.11.4 Linux/6.1`
    -> "twine 6.1.0 / CPython 3.11"; the JSON form pip and uv send (linehaul's
    `uv/0.5.0 {"installer": ..., "implementation": ...}`) likewise. Anything else is shown as
    it came, shortened.

    1. The first `product/version` word names the client.
    2. The interpreter comes from the JSON's `implementation`, else from the first word
       naming a known implementation.
    """
    raw = (raw or "").strip()
    if not raw:
        return ""
    head, _, rest = raw.partition(" ")
    client = _product(head)
    python = None
    rest = rest.strip()
    if rest.startswith("{"):
        data = _json_object(rest)
        installer = data.get("installer") if isinstance(data.get("installer"), dict) else {}
        client = _product(f"{installer.get('name')}/{installer.get('version')}") or client
        implementation = data.get("implementation")
        if isinstance(implementation, dict):
            python = _python(f"{implementation.get('name')}/{implementation.get('version')}")
    else:
        python = next(filter(None, (_python(word) for word in rest.split())), None)
    if client is None:
        if len(raw) <= _USER_AGENT_FALLBACK_LENGTH:
            return raw
        return raw[: _USER_AGENT_FALLBACK_LENGTH - 1] + "…"
    return f"{client} / {python}" if python else client


def _product(word: str) -> str | None:
    """`name/1.2.3` -> "name 1.2.3"; None when the word is not a product with a version."""
    name, slash, version = word.partition("/")
    if not (slash and name and version[:1].isdigit()) or len(word) > 80:
        return None
    return f"{name} {version}"


def _python(word: str) -> str | None:
    """`CPython/3.11.4` -> "CPython 3.11" (the minor version is what matters to readers)."""
    name, slash, version = word.partition("/")
    label = _PYTHON_IMPLEMENTATIONS.get(name.lower())
    if not (slash and label and version[:1].isdigit()):
        return None
    return f"{label} {'.'.join(version.split('.')[:2])}"


def _json_object(text: str) -> dict:
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


# readme_renderer marks code blocks up with Pygments' short token classes (`<span class="kn">`)
# inside <pre>; static/css/pygments.css colours them with this style.
PYGMENTS_STYLE = "default"
PYGMENTS_SCOPE = ".project-description pre"


def pygments_stylesheet() -> str:
    """The contents of static/css/pygments.css. Regenerate it after changing the style with
    `python -c 'from packages.rendering import pygments_stylesheet as s; print(s(), end="")'
    > static/css/pygments.css` (a test checks the two agree)."""
    from pygments.formatters import HtmlFormatter

    rules = HtmlFormatter(style=PYGMENTS_STYLE).get_token_style_defs(PYGMENTS_SCOPE)
    header = (
        f"/* Code colours for project descriptions: Pygments style {PYGMENTS_STYLE!r}, "
        "generated by packages.rendering.pygments_stylesheet(). */\n"
    )
    return header + "\n".join(rules) + "\n"
