"""Turning a release's long description into safe HTML, as Warehouse does with readme_renderer.

The result is stored on the release (see packages/jobs.py) so a project page never renders
Markdown or reStructuredText on a request.
"""

from __future__ import annotations

import nh3
import readme_renderer.markdown
import readme_renderer.rst
import readme_renderer.txt
from django.utils.html import escape
from readme_renderer.clean import ALLOWED_ATTRIBUTES, ALLOWED_TAGS

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
    if renderer is readme_renderer.markdown:
        variant = parameters.get("variant", "GFM")
        rendered = renderer.render(
            text, variant=variant if variant in _MARKDOWN_VARIANTS else "GFM"
        )
    else:
        rendered = renderer.render(text)
    if rendered is None:
        renderer, rendered = readme_renderer.txt, readme_renderer.txt.render(text)
    if renderer is readme_renderer.txt:
        # Keep the author's line breaks and spacing, as Warehouse does.
        rendered = f'<pre class="plain-description">{rendered or escape(text)}</pre>'
    return sanitize_html(rendered or "")


def sanitize_html(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        link_rel="nofollow noopener",
        url_schemes={"http", "https", "mailto"},
        set_tag_attribute_values={"input": {"disabled": ""}},
    )
