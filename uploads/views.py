"""POST /legacy/: the upload endpoint that twine and `uv publish` speak to."""

from __future__ import annotations

import base64
import binascii
import re

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, QueryDict
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from accounts.events import client_ip
from accounts.tokens import find_api_token, record_token_use
from packages import flags
from pypi_site import metrics
from uploads.checks import UploadError, validate_form
from uploads.service import Uploader, upload_file
from uploads.streaming import HashingUploadHandler


class RawFilenameParser(MultiPartParser):
    """Django strips directories from upload filenames; PyPI refuses such names instead, so
    keep the name as sent and let the filename checks judge it."""

    def sanitize_file_name(self, file_name: str) -> str | None:
        return file_name or None


# A status line holds no control characters, and a message quoting a huge value stays legible.
_UNSAFE_IN_REASON = re.compile(r"[\x00-\x1f\x7f]")
MAX_REASON_LENGTH = 1000


def error_response(error: UploadError) -> HttpResponse:
    """twine shows only the status line, so the message goes there as well as in the body."""
    message = error.message
    reason = _UNSAFE_IN_REASON.sub(" ", message.encode("latin-1", "replace").decode("latin-1"))
    if len(reason) > MAX_REASON_LENGTH:
        reason = reason[: MAX_REASON_LENGTH - 3] + "..."
    return HttpResponse(
        f"{error.status} {message}\n",
        status=error.status,
        reason=reason,
        content_type="text/plain",
        headers=error.headers,
    )


def authenticate(request: HttpRequest) -> Uploader:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, credentials = header.partition(" ")
    token_text = None
    if scheme.lower() == "basic":
        try:
            username, _, password = base64.b64decode(credentials).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            username, password = "", ""
        if username != "__token__":
            raise UploadError(
                403,
                "Username/Password authentication is no longer supported. Migrate to API "
                f"Tokens instead. See {settings.HELP_URL}#apitoken",
                reason="password-auth",
            )
        token_text = password
    elif scheme.lower() in {"token", "bearer"}:
        token_text = credentials.strip()
    token = find_api_token(token_text) if token_text else None
    if token is None:
        raise UploadError(
            403,
            "Invalid or non-existent authentication information. "
            f"See {settings.HELP_URL}#invalid-auth for more information.",
            reason="invalid-token",
        )
    record_token_use(token)
    return Uploader(
        user=token.user,
        token=token,
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
        ip_address=client_ip(request),
    )


def parse_upload(request: HttpRequest, handler: HashingUploadHandler) -> tuple[QueryDict, dict]:
    """The multipart body, the file streamed through `handler`; failures as UploadError."""
    if not request.content_type.startswith("multipart/form-data"):
        raise UploadError(400, "Upload payload does not have a file.", reason="no-file")
    try:
        post, files = RawFilenameParser(request.META, request, [handler]).parse()
    except MultiPartParserError as exc:
        raise UploadError(400, f"Invalid upload request: {exc}", reason="invalid-request") from None
    except RequestDataTooBig:
        raise UploadError(
            400,
            "Upload request too large: the form fields besides the file exceed "
            f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes (a very long description or "
            "many classifiers).",
            reason="form-too-large",
        ) from None
    except TooManyFieldsSent:
        raise UploadError(
            400,
            "Upload request has too many form fields: the limit is "
            f"{settings.DATA_UPLOAD_MAX_NUMBER_FIELDS}.",
            reason="too-many-fields",
        ) from None
    if handler.too_large:
        raise UploadError(
            400,
            f"File too large. Limit for any project is "
            f"{settings.MAX_UPLOAD_LIMIT // (1024 * 1024)} MB.",
            reason="file-too-large",
        )
    return post, files


def check_action(action: str) -> None:
    if action in {"submit", "submit_pkg_info"}:
        raise UploadError(
            410,
            "Project pre-registration is no longer required or supported, "
            "upload your files instead.",
            reason="deprecated-action",
        )
    if action == "doc_upload":
        raise UploadError(
            410,
            "Uploading documentation is no longer supported, we recommend "
            "using https://readthedocs.org/.",
            reason="deprecated-action",
        )
    if action != "file_upload":
        raise UploadError(
            400,
            f"Unknown action: {action!r}" if action else "Missing ':action' field.",
            reason="unknown-action",
        )


@csrf_exempt
def legacy_upload(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return HttpResponse(
            "This is the upload endpoint. Point twine or uv publish at this URL.\n",
            content_type="text/plain",
        )
    handler = HashingUploadHandler(request)
    try:
        # Check 0b comes before authentication.
        if (denial := flags.upload_denial()) is not None:
            raise UploadError(403, denial.message, reason="uploads-disabled")
        uploader = authenticate(request)
        post, files = parse_upload(request, handler)
        check_action(post.get(":action", ""))
        form = validate_form(post, files)
        result = upload_file(form=form, content=files.get("content"), uploader=uploader)
    except UploadError as exc:
        metrics.UPLOADS_REFUSED.labels(reason=exc.reason).inc()
        return error_response(exc)
    except Exception:
        # A bug or an outage (the database, say): counted too, then Django's 500.
        metrics.UPLOADS_REFUSED.labels(reason="unhandled-error").inc()
        raise
    finally:
        # Every way out, an exception or a body cut short included, deletes the temporary
        # files (after success local storage has already moved the file into place).
        handler.discard()
    metrics.UPLOADS_ACCEPTED.labels(new=str(result.created).lower()).inc()
    return HttpResponse(status=200)


@csrf_exempt
def legacy_without_slash(request: HttpRequest) -> HttpResponse:
    """`/legacy` without its slash. twine never follows a redirect of an upload (it stops and
    asks for the slash), so a POST here is the upload itself; anything else gets PyPI's 308.
    Exempt from CSRF like the upload, which authenticates by token, not by cookie."""
    if request.method == "POST":
        return legacy_upload(request)
    target = reverse("legacy-upload")
    if query := request.META.get("QUERY_STRING"):
        target = f"{target}?{query}"
    # Absolute (uv refuses a relative Location), from SITE_URL like every absolute URL.
    return HttpResponsePermanentRedirect(f"{settings.SITE_URL}{target}", preserve_request=True)
