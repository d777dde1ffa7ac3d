"""One schema for the index: projects, releases, files, roles and the change journal.

The journal's primary key is the change serial that mirrors follow; every write adds a row and
bumps `Project.last_serial` (see packages/journal.py).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import F, Q


class LifecycleStatus(models.TextChoices):
    # PEP 792 statuses, as Warehouse records them.
    ACTIVE = "", "Active"
    QUARANTINE_ENTER = "quarantine-enter", "Quarantined"
    QUARANTINE_EXIT = "quarantine-exit", "Quarantine cleared"
    ARCHIVED = "archived", "Archived"


class Origin(models.TextChoices):
    LOCAL = "local", "Local"
    # Listed by UPSTREAM_INDEX_URL and kept by the proxy app (proxy/): never uploaded to.
    UPSTREAM = "upstream", "Mirrored from upstream"


class ProjectQuerySet(models.QuerySet):
    def visible(self) -> ProjectQuerySet:
        """Projects that the simple index and JSON API list (quarantined ones are hidden)."""
        return self.exclude(lifecycle_status=LifecycleStatus.QUARANTINE_ENTER)


class LiveManager(models.Manager):
    """The default manager of Project, Release and File: rows an owner deleted are kept (with
    `deleted_at`) for the point-in-time view (packages/history.py) until purged, and every
    live read leaves them out. `all_objects` sees them; Django's cascades and foreign-key
    access use the base manager, which sees them too."""

    def get_queryset(self) -> models.QuerySet:
        # Every `objects` call starts here; building the filter each time cost more than some of
        # the queries it starts (an upload makes several), so its query is built once per
        # model and cloned, as `QuerySet.all()` clones.
        live = self.__dict__.get("_live_query")
        if live is None or live.model is not self.model:
            live = super().get_queryset().filter(deleted_at__isnull=True).query
            self._live_query = live
        return self._queryset_class(
            model=self.model, query=live.chain(), using=self._db, hints=self._hints
        )


class AllRowsManager(models.Manager):
    """Every row, deleted ones included: the point-in-time view, backups, storage checks."""


class LiveProjectManager(LiveManager.from_queryset(ProjectQuerySet)):
    pass


class Project(models.Model):
    name = models.CharField(max_length=200, help_text="Display name, as last uploaded")
    # Unique among live projects (constraint below): a deleted project's name may be taken again.
    normalized_name = models.CharField(max_length=200, db_index=True, editable=False)
    # packages.names.ultranormalize_name(name): indexed so confusable checks need no scan.
    ultranormalized_name = models.CharField(max_length=200, db_index=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    upload_limit = models.BigIntegerField(
        null=True, blank=True, help_text="Largest file in bytes; empty means the site default"
    )
    total_size_limit = models.BigIntegerField(
        null=True, blank=True, help_text="Total bytes of all files; empty means the site default"
    )
    total_size = models.BigIntegerField(default=0, editable=False)
    last_serial = models.BigIntegerField(default=0, editable=False)
    lifecycle_status = models.CharField(
        max_length=32, choices=LifecycleStatus.choices, default="", blank=True
    )
    # A quarantine has two texts: the notice is public (project page, owners' pages), the
    # reason is the staff's own (admin and the project's events), so a moderator can write
    # "report #123 from X, payload in setup.py" without publishing it.
    quarantine_notice = models.TextField(
        blank=True, help_text="Shown on the project's page and to its owners while quarantined"
    )
    quarantine_reason = models.TextField(
        blank=True, help_text="Staff only: why it was last quarantined"
    )
    # Private: only its collaborators and staff see it (packages/permissions.py); to everyone
    # else it does not exist, yet its name stays taken.
    is_private = models.BooleanField(default=False)
    # PEP 792's optional reason, public: what the owners said when they archived it.
    lifecycle_status_note = models.TextField(
        blank=True, help_text="Shown with the archived status (simple API, project page)"
    )
    # The organization that owns it (packages/ownership.py moves it there); its Owners are
    # Owners of the project and its teams hold TeamProjectRoles on it.
    organization = models.ForeignKey(
        "organizations.Organization",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="projects",
    )
    # Set when an owner deletes the project (see LiveManager); its releases and files get the
    # same time.
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    origin = models.CharField(
        max_length=10, choices=Origin.choices, default=Origin.LOCAL, editable=False
    )

    objects = LiveProjectManager()
    all_objects = ProjectQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["normalized_name"],
                condition=Q(deleted_at__isnull=True),
                name="unique_live_project_name",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_upstream(self) -> bool:
        return self.origin == Origin.UPSTREAM

    @property
    def is_quarantined(self) -> bool:
        return self.lifecycle_status == LifecycleStatus.QUARANTINE_ENTER

    @property
    def is_archived(self) -> bool:
        return self.lifecycle_status == LifecycleStatus.ARCHIVED

    @property
    def simple_status(self) -> str:
        """The PEP 792 `project-status` value."""
        if self.is_quarantined:
            return "quarantined"
        if self.is_archived:
            return "archived"
        return "active"

    @property
    def simple_status_reason(self) -> str:
        """PEP 792's optional `reason`: the owners' note on an archived project, else none
        (a quarantine's notice stays on the project page, as on PyPI)."""
        return self.lifecycle_status_note if self.is_archived else ""

    @property
    def effective_upload_limit(self) -> int:
        return self.upload_limit or settings.DEFAULT_UPLOAD_LIMIT

    @property
    def effective_total_size_limit(self) -> int:
        return self.total_size_limit or settings.DEFAULT_TOTAL_SIZE_LIMIT


class Release(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="releases")
    version = models.CharField(max_length=100)
    canonical_version = models.CharField(max_length=100, editable=False)
    # Position in PEP 440 order among the project's releases, recomputed when one is added, so
    # the database can sort without knowing PEP 440.
    sort_order = models.IntegerField(default=0, editable=False)
    is_prerelease = models.BooleanField(default=False, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    uploader = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_via = models.CharField(max_length=300, blank=True)

    # Core metadata, up to Metadata 2.4 (PEP 639 licence fields included).
    metadata_version = models.CharField(max_length=10, blank=True)
    summary = models.CharField(max_length=512, blank=True)
    description = models.TextField(blank=True)
    description_content_type = models.CharField(max_length=200, blank=True)
    # Sanitized HTML of `description`, rendered by a background job; empty until then.
    description_html = models.TextField(blank=True, editable=False)
    description_rendered_at = models.DateTimeField(null=True, blank=True, editable=False)
    keywords = models.TextField(blank=True)
    home_page = models.TextField(blank=True)
    download_url = models.TextField(blank=True)
    author = models.TextField(blank=True)
    author_email = models.TextField(blank=True)
    maintainer = models.TextField(blank=True)
    maintainer_email = models.TextField(blank=True)
    license = models.TextField(blank=True)
    license_expression = models.TextField(blank=True)
    license_files = models.JSONField(default=list, blank=True)
    classifiers = models.JSONField(default=list, blank=True)
    platforms = models.JSONField(default=list, blank=True)
    supported_platforms = models.JSONField(default=list, blank=True)
    requires_dist = models.JSONField(default=list, blank=True)
    provides_extra = models.JSONField(default=list, blank=True)
    requires_external = models.JSONField(default=list, blank=True)
    provides_dist = models.JSONField(default=list, blank=True)
    obsoletes_dist = models.JSONField(default=list, blank=True)
    project_urls = models.JSONField(default=dict, blank=True)
    dynamic = models.JSONField(default=list, blank=True)
    requires_python = models.CharField(max_length=200, blank=True)

    # PEP 592.
    yanked = models.BooleanField(default=False)
    yanked_reason = models.TextField(blank=True)
    yanked_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = LiveManager()
    all_objects = AllRowsManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "canonical_version"],
                condition=Q(deleted_at__isnull=True),
                name="unique_live_release_version",
            )
        ]
        indexes = [
            models.Index(fields=["project", "sort_order"]),
            # The project's "latest" release as search and the project page pick it (not
            # yanked, then final, then highest): one index entry, not a sort of them all.
            models.Index(
                "project",
                "yanked",
                "is_prerelease",
                models.OrderBy(models.F("sort_order"), descending=True),
                condition=Q(deleted_at__isnull=True),
                name="packages_release_latest_live",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project.name} {self.version}"


class PackageType(models.TextChoices):
    SDIST = "sdist", "Source distribution"
    WHEEL = "bdist_wheel", "Wheel"


class File(models.Model):
    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="files")
    filename = models.CharField(max_length=255, unique=True)
    path = models.CharField(max_length=400, unique=True, help_text="Storage key")
    size = models.BigIntegerField()
    md5_digest = models.CharField(max_length=32)
    sha256_digest = models.CharField(max_length=64, unique=True)
    # Null for a file mirrored from upstream until its bytes are fetched (upstreams list sha256).
    blake2_256_digest = models.CharField(max_length=64, unique=True, null=True, blank=True)
    packagetype = models.CharField(max_length=20, choices=PackageType.choices)
    python_version = models.CharField(max_length=50)
    comment_text = models.TextField(blank=True)
    upload_time = models.DateTimeField(auto_now_add=True)
    uploader = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_via = models.CharField(max_length=300, blank=True)
    # PEP 658: sha256 of the `<path>.metadata` file, empty when there is none (sdists).
    metadata_sha256 = models.CharField(max_length=64, blank=True)
    # PEP 740: set by attestations.provenance in the transaction that stores the file's
    # verified attestations, so the simple API can list a `provenance` URL without a join.
    has_provenance = models.BooleanField(default=False, editable=False)
    # Set when the file (or its release or project) is deleted by an owner: it leaves the live
    # index at once but keeps its row and bytes for the point-in-time view until purged.
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False, db_index=True)
    # Mirrored files only: where the bytes come from, and the upload-time the upstream listed
    # (null when it listed none), which the release-age policy counts from.
    upstream_url = models.TextField(blank=True, editable=False)
    upstream_upload_time = models.DateTimeField(null=True, blank=True, editable=False)

    objects = LiveManager()
    all_objects = AllRowsManager()

    class Meta:
        constraints = [
            # One sdist per release, as PyPI allows.
            models.UniqueConstraint(
                fields=["release"],
                condition=Q(packagetype="sdist", deleted_at__isnull=True),
                name="one_live_sdist_per_release",
            )
        ]

    def __str__(self) -> str:
        return self.filename

    @property
    def metadata_path(self) -> str:
        return f"{self.path}.metadata"


class YankChange(models.Model):
    """PEP 592 history: each yank and un-yank of a release with its time, so the point-in-time
    view (packages/history.py) shows a release as yanked or not at any moment. `Release.yanked`
    stays the current state that live pages read."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="yank_changes")
    yanked = models.BooleanField()
    reason = models.TextField(blank=True)
    time = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["release", "time"])]

    def __str__(self) -> str:
        return f"{self.release_id} {'yank' if self.yanked else 'unyank'} at {self.time}"


class SearchDocument(models.Model):
    """What website search reads on PostgreSQL: one row per project, its name (weight A),
    latest release's summary and keywords (B) and description (D) as one tsvector, kept by
    packages/search_documents.py. A word then matches a project once, not once per release."""

    project = models.OneToOneField(
        Project, on_delete=models.CASCADE, primary_key=True, related_name="search_document"
    )
    document = SearchVectorField(null=True)
    # Live releases: the order in which common words' matches are ranked (see packages/search.py).
    popularity = models.IntegerField(default=0)

    class Meta:
        indexes = [
            GinIndex(fields=["document"], name="packages_search_document_gin"),
            models.Index(F("popularity").desc(), name="packages_search_popularity"),
        ]

    def __str__(self) -> str:
        return f"search document of project {self.project_id}"


class FilenameRegistry(models.Model):
    """Every filename ever accepted; deleting a file never removes its row, so no name is reused."""

    filename = models.CharField(max_length=255, unique=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "filename registry"

    def __str__(self) -> str:
        return self.filename


class RoleName(models.TextChoices):
    OWNER = "Owner"
    MAINTAINER = "Maintainer"


class Role(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="project_roles"
    )
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="roles")
    role_name = models.CharField(max_length=20, choices=RoleName.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "project"], name="unique_role")]

    def __str__(self) -> str:
        return f"{self.role_name} {self.user} on {self.project}"


class TeamProjectRole(models.Model):
    """A team's role on one of its organization's projects: the same Owner or Maintainer powers
    as a personal Role, for each member of the team (packages/permissions.py)."""

    team = models.ForeignKey(
        "organizations.Team", on_delete=models.CASCADE, related_name="project_roles"
    )
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="team_roles")
    role_name = models.CharField(max_length=20, choices=RoleName.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "project"], name="unique_team_project_role")
        ]

    def __str__(self) -> str:
        return f"{self.role_name} team {self.team} on {self.project}"


class JournalQuerySet(models.QuerySet):
    def last_serial(self) -> int:
        return self.aggregate(m=models.Max("id"))["m"] or 0


class JournalEntry(models.Model):
    """One row per change; `id` is the serial that `X-PyPI-Last-Serial` and mirrors use."""

    name = models.CharField(max_length=200, db_index=True)
    version = models.CharField(max_length=100, blank=True)
    action = models.TextField()
    submitted_date = models.DateTimeField(auto_now_add=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Who made the change, as text (PyPI keeps a username): the site user's name, or for a
    # manage.py command its --actor (by default the OS user who ran it). It outlives the user.
    submitted_by_name = models.CharField(max_length=150, blank=True)

    objects = JournalQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "journal entries"
        indexes = [
            # A project's entries newest first (the admin's search by name, a project's
            # history): read backwards from its newest one. With the name index alone,
            # PostgreSQL walked the whole journal backwards by id, betting that the project's
            # rows were spread through it (1.4 s, 22 s from disk, at 12 million rows).
            models.Index(fields=["name", "id"], name="packages_journal_name_id"),
        ]

    def __str__(self) -> str:
        return f"#{self.id} {self.name} {self.version} {self.action}"


class RoleInvitation(models.Model):
    """An Owner's offer of a role; the invitee accepts or declines before `expires`."""

    class Status(models.TextChoices):
        PENDING = "pending"
        ACCEPTED = "accepted"
        DECLINED = "declined"
        EXPIRED = "expired"
        REVOKED = "revoked"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_invitations"
    )
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invitations")
    role_name = models.CharField(max_length=20, choices=RoleName.choices)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    created = models.DateTimeField(auto_now_add=True)
    expires = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "project"],
                condition=Q(status="pending"),
                name="one_pending_invitation",
            )
        ]

    def __str__(self) -> str:
        return f"{self.role_name} invitation for {self.user} on {self.project}"


class ProjectEvent(models.Model):
    """A project's security history: roles, uploads, yanks, deletions, moderation."""

    project = models.ForeignKey(
        Project, null=True, on_delete=models.SET_NULL, related_name="events"
    )
    # Kept so the history of a deleted project still says which one it was.
    project_name = models.CharField(max_length=200, db_index=True)
    tag = models.CharField(max_length=100)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    additional = models.JSONField(default=dict, blank=True)
    time = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.project_name} {self.tag}"


class ProhibitedProjectName(models.Model):
    """A name staff have blocked; uploads may not create it or anything confusable with it."""

    name = models.CharField(max_length=200)
    normalized_name = models.CharField(max_length=200, unique=True, editable=False)
    ultranormalized_name = models.CharField(max_length=200, db_index=True, editable=False)
    comment = models.TextField(blank=True)
    prohibited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class AdminFlag(models.Model):
    """Site-wide switches staff flip in admin; each can show a banner."""

    class Flag(models.TextChoices):
        READ_ONLY = "read-only"
        DISALLOW_NEW_UPLOAD = "disallow-new-upload"
        DISALLOW_NEW_PROJECT_REGISTRATION = "disallow-new-project-registration"
        DISALLOW_NEW_USER_REGISTRATION = "disallow-new-user-registration"

    id = models.CharField(max_length=64, primary_key=True, choices=Flag.choices)
    enabled = models.BooleanField(default=False)
    banner = models.TextField(blank=True, help_text="Shown on every page while enabled")

    def __str__(self) -> str:
        return self.id


class ReleaseAgeExemption(models.Model):
    """Staff's break-glass for MIN_RELEASE_AGE: an upstream project (empty version: all of its
    releases) whose young files are served anyway until `expires`."""

    normalized_name = models.CharField(max_length=200, db_index=True)
    version = models.CharField(max_length=100, blank=True, help_text="Empty: every release")
    reason = models.TextField()
    expires = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.normalized_name} {self.version or '(all)'} until {self.expires:%Y-%m-%d}"


class StoredDocument(models.Model):
    """A project's simple page or JSON API document, rendered when the project changed
    (packages/documents.py) so that no read has to render it. Served only while `serial` is
    the project's last serial and `version` that of the running code and settings."""

    class Kind(models.TextChoices):
        SIMPLE_HTML = "simple-html"
        SIMPLE_JSON = "simple-json"
        JSON_API = "json-api"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    serial = models.BigIntegerField()
    # documents.document_version(): the render code and the settings the body depends on.
    version = models.CharField(max_length=32)
    etag = models.CharField(max_length=40)
    body = models.BinaryField()
    # Null when the body is too small to be worth compressing (responses.GZIP_MIN_SIZE).
    gzip_body = models.BinaryField(null=True, blank=True)
    # A large document's forms live in the default storage instead (documents.py says why):
    # then `body` is empty and these name its objects (`gzip_key` null as `gzip_body` would be).
    # Null, not "", for a document kept in its row: the read coalesces them with the bodies.
    body_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    gzip_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    rendered_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "kind"], name="unique_stored_document")
        ]

    def __str__(self) -> str:
        return f"{self.kind} of project {self.project_id} at serial {self.serial}"


class RootSegment(models.Model):
    """A stored piece of the public `/simple/` root: the projects whose normalized name starts
    with `prefix`, rendered once and re-rendered only when one of them changes
    (packages/root.py). Each format is kept plain and as a raw deflate stream (its CRC-32 and
    length beside it), so a gzip answer is stitched from stored pieces without compressing."""

    prefix = models.CharField(max_length=2, primary_key=True)
    # Byte order of the prefix, so segments are read in the order the pages list names
    # whatever the database's collation.
    position = models.IntegerField(unique=True)
    built_serial = models.BigIntegerField()
    html = models.BinaryField()
    html_deflate = models.BinaryField()
    html_crc = models.BigIntegerField()
    html_size = models.BigIntegerField()
    json = models.BinaryField()
    json_deflate = models.BinaryField()
    json_crc = models.BigIntegerField()
    json_size = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.prefix} @{self.built_serial}"


class RootSync(models.Model):
    """One row: every RootSegment is current up to the journal serial `serial`, rendered by
    the code whose fingerprint is `render_version` (another deploy's segments are rebuilt)."""

    serial = models.BigIntegerField(default=0)
    render_version = models.CharField(max_length=32, blank=True)

    def __str__(self) -> str:
        return f"root segments @{self.serial}"
