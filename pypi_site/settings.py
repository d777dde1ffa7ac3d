"""Settings for the index: one file, switched by environment variables.

With nothing set the index runs embedded (SQLite, files and mail under DATA_DIR, locmem cache,
jobs inline). DATABASE_URL, REDIS_URL and AWS_STORAGE_BUCKET_NAME switch each part to its
production backend independently, so app servers stay stateless behind a load balancer.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def database_from_url(url: str) -> dict:
    """Translate postgres://user:pass@host:port/name?opt=v into Django's DATABASES entry."""
    parsed = urlparse(url)
    if parsed.scheme not in {"postgres", "postgresql", "pgsql"}:
        raise ImproperlyConfigured(f"DATABASE_URL scheme {parsed.scheme!r} is not supported")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parsed.path.lstrip("/")),
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": parsed.hostname or "",
        "PORT": str(parsed.port or ""),
        "CONN_MAX_AGE": env_int("DATABASE_CONN_MAX_AGE", 60),
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": dict(parse_qsl(parsed.query)),
    }


BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env("DATA_DIR", str(BASE_DIR / "var"))).resolve()

DEBUG = env_bool("DEBUG")
SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    if env("DATABASE_URL") and not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    # Embedded mode (one machine, no DATABASE_URL) keeps a generated key under DATA_DIR, so
    # `make run` needs no set-up and sessions survive restarts.
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        from django.core.management.utils import get_random_secret_key

        key_file.write_text(get_random_secret_key())
        key_file.chmod(0o600)
    SECRET_KEY = key_file.read_text().strip()

# --- Where this site lives -------------------------------------------------------------------
# Every absolute URL (mail links, file URLs in the simple API, feeds, help links) is built from
# SITE_URL, never from the request's Host header, which a client can forge. Production
# (DATABASE_URL set) needs SITE_URL or ALLOWED_HOSTS and derives the one from the other; the
# embedded default serves http://HOST:PORT with no set-up.
SITE_URL = env("SITE_URL").rstrip("/")
ALLOWED_HOSTS = [h.strip() for h in env("ALLOWED_HOSTS").split(",") if h.strip()]
if SITE_URL and urlparse(SITE_URL).scheme not in {"http", "https"}:
    raise ImproperlyConfigured(f"SITE_URL must be an http(s) URL, not {SITE_URL!r}")
if not SITE_URL and not ALLOWED_HOSTS and env("DATABASE_URL"):
    raise ImproperlyConfigured(
        "Set SITE_URL (e.g. https://pypi.example.com) or ALLOWED_HOSTS when DATABASE_URL is set: "
        "links in mail and in the simple API are built from it."
    )
if not SITE_URL:
    if ALLOWED_HOSTS and not ALLOWED_HOSTS[0].startswith((".", "*")):
        _scheme = "https" if env_bool("SECURE_COOKIES") or env_bool("BEHIND_PROXY") else "http"
        SITE_URL = f"{_scheme}://{ALLOWED_HOSTS[0]}"
    else:
        _host = env("HOST", "127.0.0.1")
        _host = "127.0.0.1" if _host in {"", "0.0.0.0", "::"} else _host
        SITE_URL = f"http://{_host}:{env('PORT', '8000')}"
if not ALLOWED_HOSTS:
    ALLOWED_HOSTS = [urlparse(SITE_URL).hostname or "localhost"]
    if not env("DATABASE_URL"):
        # Embedded: whatever loopback name the browser uses.
        ALLOWED_HOSTS += ["localhost", "127.0.0.1", "[::1]"]
CSRF_TRUSTED_ORIGINS = [o for o in env("CSRF_TRUSTED_ORIGINS").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_rq",
    "accounts",
    "organizations",
    "packages",
    "attestations",
    "uploads",
    "backups",
    "operations",
    "webhooks",
    "trusted_publishing",
    "proxy",
]

MIDDLEWARE = [
    # Outermost: the request id is set before anything logs, and timing covers every layer.
    "operations.middleware.RequestIdMiddleware",
    "operations.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "accounts.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "packages.middleware.ReadAccessMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "pypi_site.urls"
WSGI_APPLICATION = "pypi_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "packages.context_processors.site_banners",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
if env("DATABASE_URL"):
    DATABASES = {"default": database_from_url(env("DATABASE_URL"))}
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "db.sqlite3",
            # Reuse each thread's connection: opening one and running the PRAGMAs below cost
            # more than serving a cached simple page.
            "CONN_MAX_AGE": env_int("DATABASE_CONN_MAX_AGE", 600),
            "CONN_HEALTH_CHECKS": True,
            # Concurrent uploads from several gunicorn workers: WAL lets readers run beside the
            # writer, IMMEDIATE takes the write lock at BEGIN (so no upgrade deadlock) and the
            # timeout makes writers queue instead of failing with "database is locked".
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;"
                ),
            },
            "TEST": {"NAME": env("SQLITE_TEST_NAME") or None},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and jobs -------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            # A Redis outage degrades to cache misses instead of failing requests.
            "BACKEND": "pypi_site.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", "pypi"),
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
        }
    }
    # A short connect timeout, so an unreachable Redis makes enqueue fall back to running the
    # job in the request (pypi_site/jobs.py) instead of hanging it.
    _rq_url = REDIS_URL
    if "socket_connect_timeout" not in _rq_url:
        _rq_url += ("&" if "?" in _rq_url else "?") + "socket_connect_timeout=2"
    RQ_QUEUES = {"default": {"URL": _rq_url, "DEFAULT_TIMEOUT": 600}}
else:
    # Every gunicorn worker must see the same rate-limit counts and flags: a cache on disk
    # under DATA_DIR, not one per process.
    CACHES = {
        "default": {
            "BACKEND": "pypi_site.cache.SharedFileCache",
            "LOCATION": DATA_DIR / "cache",
            "OPTIONS": {"MAX_ENTRIES": 20000},
        }
    }
    # django-rq needs the setting to import; pypi_site.jobs.enqueue never reaches it without Redis.
    RQ_QUEUES = {"default": {"URL": "redis://127.0.0.1:6379/0"}}

# --- Storage --------------------------------------------------------------------------------
AWS_STORAGE_BUCKET_NAME = env("AWS_STORAGE_BUCKET_NAME")
if AWS_STORAGE_BUCKET_NAME:
    DEFAULT_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env("AWS_S3_ENDPOINT_URL") or None,
            "region_name": env("AWS_S3_REGION_NAME") or None,
            "access_key": env("AWS_ACCESS_KEY_ID") or None,
            "secret_key": env("AWS_SECRET_ACCESS_KEY") or None,
            "custom_domain": env("AWS_S3_CUSTOM_DOMAIN") or None,
            "querystring_auth": env_bool("AWS_QUERYSTRING_AUTH", True),
            "file_overwrite": False,
            # Distributions are opaque bytes: without this, a .tar.gz would be served with
            # Content-Encoding: gzip and clients would unpack it, breaking its hash.
            "object_parameters": {"ContentType": "application/octet-stream"},
            "default_acl": None,
        },
    }
else:
    DEFAULT_STORAGE = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": DATA_DIR / "files"},
    }
STORAGES = {
    "default": DEFAULT_STORAGE,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# --- Static simple pages and CDN (packages/static_pages.py, packages/cdn.py) --------------
# Write every project's simple pages to storage (under simple/) after each change, for nginx
# (deploy/nginx/) or the bucket to serve while app servers are down.
STATIC_SIMPLE_PAGES = env_bool("STATIC_SIMPLE_PAGES")
# After a project changes, purge its surrogate keys: a URL with "{key}" gets one POST per key,
# any other URL one PURGE request with a Surrogate-Key header. CDN_PURGE_HEADER ("Name: value")
# is sent with each (the CDN's credentials).
CDN_PURGE_URL = env("CDN_PURGE_URL")
CDN_PURGE_HEADER = env("CDN_PURGE_HEADER")

# --- Uploads --------------------------------------------------------------------------------
# PyPI's defaults: 100 MiB a file, 10 GiB a project; staff may raise a project's file limit
# up to MAX_UPLOAD_LIMIT, which is also the hard cap applied while the body streams in.
DEFAULT_UPLOAD_LIMIT = env_int("DEFAULT_UPLOAD_LIMIT", 100 * 1024**2)
DEFAULT_TOTAL_SIZE_LIMIT = env_int("DEFAULT_TOTAL_SIZE_LIMIT", 10 * 1024**3)
MAX_UPLOAD_LIMIT = env_int("MAX_UPLOAD_LIMIT", 1024**3)
ACCEPT_LEGACY_FILENAMES = env_bool("ACCEPT_LEGACY_FILENAMES")
# Description and other metadata fields arrive as form fields; allow generous READMEs.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 16 * 1024**2)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10000
# Bounds on reading any wheel or sdist (packages/archives.py): total uncompressed bytes, member
# count, seconds; zip and tar bombs stop at the first one crossed.
ARCHIVE_MAX_UNCOMPRESSED_SIZE = env_int("ARCHIVE_MAX_UNCOMPRESSED_SIZE", 8 * 1024**3)
ARCHIVE_MAX_MEMBERS = env_int("ARCHIVE_MAX_MEMBERS", 100_000)
ARCHIVE_MAX_READ_SECONDS = env_int("ARCHIVE_MAX_READ_SECONDS", 120)
FILE_UPLOAD_TEMP_DIR = env("FILE_UPLOAD_TEMP_DIR") or str(DATA_DIR / "tmp")
Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)  # Django's checks want it.
API_TOKEN_PREFIX = env("API_TOKEN_PREFIX", "pypi-")
# Where file links in the simple and JSON APIs point (a CDN, say); default SITE_URL/packages/.
FILES_BASE_URL = env("FILES_BASE_URL") or f"{SITE_URL}/packages/"
# Refusal messages link here; absolute, since twine and pip show them outside any page.
HELP_URL = env("HELP_URL") or f"{SITE_URL}/help/"

# --- Security -------------------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_PROXY") else None
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES")
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES")
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
CSRF_COOKIE_HTTPONLY = True
# Pages use no inline script or style and load nothing from other origins.
CONTENT_SECURITY_POLICY = env(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
)
# README images from other hosts are served through /_img/ (packages/images.py) so pages keep
# img-src 'self'; with IMAGE_PROXY off they are dropped. The proxy refuses hosts on private and
# loopback addresses unless IMAGE_PROXY_ALLOW_PRIVATE is on (tests, closed networks).
IMAGE_PROXY = env_bool("IMAGE_PROXY", True)
IMAGE_PROXY_ALLOW_PRIVATE = env_bool("IMAGE_PROXY_ALLOW_PRIVATE")

# --- Webhooks -------------------------------------------------------------------------------
# Deliveries go only to hosts on the public internet unless WEBHOOKS_ALLOW_PRIVATE is on
# (tests, closed networks); each attempt waits WEBHOOKS_TIMEOUT seconds at most. Without Redis
# a delivery is tried WEBHOOKS_INLINE_ATTEMPTS times at once (webhooks/jobs.py says why).
WEBHOOKS_ALLOW_PRIVATE = env_bool("WEBHOOKS_ALLOW_PRIVATE")
WEBHOOKS_TIMEOUT = env_int("WEBHOOKS_TIMEOUT", 5)
WEBHOOKS_INLINE_ATTEMPTS = env_int("WEBHOOKS_INLINE_ATTEMPTS", 3)

# --- Trusted publishing (trusted_publishing/) -----------------------------------------------
# CI jobs trade an OIDC token from these issuers for a 15-minute upload token at
# /_/oidc/mint-token. The audience is the one value the tokens must name: by default derived
# from SITE_URL, so a token minted for one index is useless on another. Issuers named here
# (and generic ones staff register in admin) may be on private networks; a self-managed GitLab
# URL an owner types in must be public unless TRUSTED_PUBLISHING_ALLOW_PRIVATE is on.
TRUSTED_PUBLISHING = env_bool("TRUSTED_PUBLISHING", True)
TRUSTED_PUBLISHING_AUDIENCE = env("TRUSTED_PUBLISHING_AUDIENCE") or (
    urlparse(SITE_URL).hostname or "localhost"
)
TRUSTED_PUBLISHING_GITHUB_ISSUER = env(
    "TRUSTED_PUBLISHING_GITHUB_ISSUER", "https://token.actions.githubusercontent.com"
).rstrip("/")
TRUSTED_PUBLISHING_GITLAB_ISSUER = env(
    "TRUSTED_PUBLISHING_GITLAB_ISSUER", "https://gitlab.com"
).rstrip("/")
TRUSTED_PUBLISHING_GOOGLE_ISSUER = env(
    "TRUSTED_PUBLISHING_GOOGLE_ISSUER", "https://accounts.google.com"
).rstrip("/")
TRUSTED_PUBLISHING_ALLOW_PRIVATE = env_bool("TRUSTED_PUBLISHING_ALLOW_PRIVATE")
# --- Upstream proxy (proxy/) ----------------------------------------------------------------
# UPSTREAM_INDEX_URL (the simple root of a PEP 691/503 index) turns the pull-through cache on;
# unset, the index makes no outbound request. Credentials may also be in the URL.
UPSTREAM_INDEX_URL = env("UPSTREAM_INDEX_URL")
if UPSTREAM_INDEX_URL and not UPSTREAM_INDEX_URL.endswith("/"):
    UPSTREAM_INDEX_URL += "/"
UPSTREAM_INDEX_USERNAME = env("UPSTREAM_INDEX_USERNAME")
UPSTREAM_INDEX_PASSWORD = env("UPSTREAM_INDEX_PASSWORD")
UPSTREAM_TIMEOUT = env_int("UPSTREAM_TIMEOUT", 20)
UPSTREAM_PAGE_TTL = env_int("UPSTREAM_PAGE_TTL", 600)


def _duration(text: str) -> int:
    """`3d`, `12h`, `30m`, `45s` or plain seconds; empty or 0 is off."""
    text = text.strip().lower()
    if not text:
        return 0
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    try:
        if text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except ValueError:
        raise ImproperlyConfigured(
            f"MIN_RELEASE_AGE={text!r}: give a duration such as 3d, 12h, 30m or seconds"
        ) from None


# Upstream files younger than this (by the upstream's upload-time) are hidden; a file with no
# upload-time counts as too young unless MIN_RELEASE_AGE_ALLOW_UNKNOWN.
MIN_RELEASE_AGE = _duration(env("MIN_RELEASE_AGE"))
MIN_RELEASE_AGE_ALLOW_UNKNOWN = env_bool("MIN_RELEASE_AGE_ALLOW_UNKNOWN")

# --- Accounts -------------------------------------------------------------------------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    # Older hashes still verify, and are upgraded to Argon2 at the next login.
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/account/login/"
LOGIN_REDIRECT_URL = "/manage/account/"
# Shown in authenticator apps next to the username, and in mail.
SITE_NAME = env("SITE_NAME", "Package index")
# Whether uploading and managing projects need a verified primary email and two-factor
# authentication. A public index should turn REQUIRE_TWO_FACTOR on.
REQUIRE_VERIFIED_EMAIL = env_bool("REQUIRE_VERIFIED_EMAIL", True)
REQUIRE_TWO_FACTOR = env_bool("REQUIRE_TWO_FACTOR", False)
# Sensitive actions (tokens, 2FA, roles, deletion) ask for the password again after this long.
REAUTH_GRACE_SECONDS = env_int("REAUTH_GRACE_SECONDS", 30 * 60)
# Links in verification and password-reset emails stop working after this long.
EMAIL_TOKEN_MAX_AGE = env_int("EMAIL_TOKEN_MAX_AGE", 6 * 3600)
PASSWORD_RESET_TIMEOUT = EMAIL_TOKEN_MAX_AGE
ROLE_INVITATION_MAX_AGE = env_int("ROLE_INVITATION_MAX_AGE", 7 * 24 * 3600)
# Who may read: `public` (anyone) or `authenticated` (a session or HTTP Basic credentials on
# every read route; packages/middleware.py). Private projects are hidden either way.
INDEX_READ_ACCESS = env("INDEX_READ_ACCESS", "public").strip().lower()
if INDEX_READ_ACCESS not in {"public", "authenticated"}:
    raise ImproperlyConfigured("INDEX_READ_ACCESS must be 'public' or 'authenticated'")
# Static pages are served without asking who reads (nginx, a bucket): never on a private index.
if INDEX_READ_ACCESS == "authenticated" and env_bool("STATIC_SIMPLE_PAGES", False):
    raise ImproperlyConfigured(
        "STATIC_SIMPLE_PAGES cannot be on with INDEX_READ_ACCESS=authenticated"
    )
# Whether installers may read with a user's own name and password (never with 2FA on).
READ_BASIC_AUTH_PASSWORDS = env_bool("READ_BASIC_AUTH_PASSWORDS", False)
# New organizations wait for staff approval (the public index's way); off by default, since a
# private index's users are the operator's own people.
ORGANIZATIONS_REQUIRE_APPROVAL = env_bool("ORGANIZATIONS_REQUIRE_APPROVAL", False)
# "COUNT/SECONDS" per key, counted in the cache; each can be overridden, e.g.
# RATE_LIMIT_PROJECT_CREATE_USER=100/3600. PyPI's numbers where it has them.
RATE_LIMITS = {
    name: env(f"RATE_LIMIT_{name.upper()}", default)
    for name, default in {
        "login_user": "10/300",
        "login_ip": "10/300",
        "two_factor_user": "5/300",
        "two_factor_ip": "10/300",
        # Mails to one account: PyPI's 5 a day per requesting address, and a ceiling across
        # addresses that lifts within the hour (so no stranger locks the owner out for a day).
        "password_reset_user_ip": "5/86400",
        "password_reset_user": "10/3600",
        "password_reset_ip": "20/3600",
        "register_ip": "10/3600",
        "email_add_user": "5/86400",
        "project_create_user": "20/3600",
        "project_create_ip": "40/3600",
        "oidc_mint_ip": "600/3600",
        # Wrong API tokens sent as HTTP Basic to read routes.
        "basic_auth_ip": "30/300",
    }.items()
}

# --- Mail -----------------------------------------------------------------------------------
# EMAIL_URL (smtp://user:pass@host:587, smtp+tls://..., smtps://...) or the usual EMAIL_HOST,
# EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS, EMAIL_USE_SSL send over SMTP;
# with neither, each message is written to a file under DATA_DIR/mail to open by hand.
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "noreply@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
if env("EMAIL_URL"):
    _email = urlparse(env("EMAIL_URL"))
    if _email.scheme not in {"smtp", "smtp+tls", "smtps"}:
        raise ImproperlyConfigured(f"EMAIL_URL scheme {_email.scheme!r} is not supported")
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _email.hostname or "localhost"
    EMAIL_PORT = _email.port or (465 if _email.scheme == "smtps" else 25)
    EMAIL_HOST_USER = unquote(_email.username or "")
    EMAIL_HOST_PASSWORD = unquote(_email.password or "")
    EMAIL_USE_TLS = _email.scheme == "smtp+tls"
    EMAIL_USE_SSL = _email.scheme == "smtps"
elif env("EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env("EMAIL_HOST")
    EMAIL_PORT = env_int("EMAIL_PORT", 25)
    EMAIL_HOST_USER = env("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = DATA_DIR / "mail"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

# --- Operations (operations/) ---------------------------------------------------------------
# /metrics answers loopback clients (unless METRICS_ALLOW_LOOPBACK is off) and anyone sending
# `Authorization: Bearer <METRICS_TOKEN>`. LOG_FORMAT=json logs one JSON object a line, each
# with the request id (X-Request-ID) of the request that logged it.
METRICS_TOKEN = env("METRICS_TOKEN")
METRICS_ALLOW_LOOPBACK = env_bool("METRICS_ALLOW_LOOPBACK", True)
LOG_FORMAT = env("LOG_FORMAT", "text")
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be text or json, not {LOG_FORMAT!r}")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "operations.logs.RequestIdFilter"}},
    "formatters": {
        "text": {"format": "%(message)s"},
        "json": {"()": "operations.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "WARNING")},
    "loggers": {
        # attestations/verify.py verifies offline on purpose; sigstore warns about it each time.
        "sigstore._internal.tuf": {"level": "ERROR"},
    },
}
