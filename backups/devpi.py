"""`import_devpi`: a directory written by devpi-server's `devpi-export` into this index, so a
devpi's users and private indexes can move in.

devpi's export (devpi_server/importexport.py, dumpversion "2"; "1" is read too):

    DIR/dataindex.json   {"dumpversion": "2", "devpi_server": version,
                          "users": {NAME: {"pwhash", "pwsalt"?, "email"?, ...}},
                          "indexes": {"USER/INDEX": {
                              "indexconfig": {"type": "stage"|"mirror", "acl_upload": [...], ...},
                              "projects": {NORMALIZED: {VERSION: {metadata as uploaded}}},
                              "files": [{"type": "releasefile"|"doczip"|"toxresult",
                                         "projectname", "version", "relpath",
                                         "entrymapping": {"hashes": {"sha256": HEX}, ...}}]}}}
    DIR/USER/INDEX/PROJECT/VERSION/FILENAME   each release file (doc zips and tox results too)

How it maps. devpi has projects per index; this index has one namespace, so the chosen indexes
(`--index`, default every non-mirror index) are laid over each other: a project in two of them
is imported once if the versions both have carry the same files, and is an error otherwise.
A project's Owners are its indexes' owners (the first uploads it), its Maintainers the other
users of their `acl_upload`. Users keep devpi's argon2 password hash (Django's argon2 hasher
verifies it, and rehashes at the next login); a user with an older devpi hash, or none, gets an
unusable password and must reset it. devpi never verified addresses, so they arrive
unverified unless `trust_emails`. Usernames that already exist here are used as they are.

Files go through the upload itself (uploads.service.upload_file, as `import_dists` does), as
their project's first Owner: every check, row, journal entry, event and stored page an upload
makes. Each project is all or nothing: its files are hashed against the export first, then
uploaded in one transaction; a mismatch or a refused file keeps nothing of that project (and
deletes the objects it stored). Doc zips, tox results and versions without files have no place
here and are counted as skipped.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.files.storage import storages
from django.core.validators import MaxLengthValidator
from django.db import transaction
from django.test.utils import override_settings

from accounts.emails import address_taken
from accounts.models import Email
from backups.layout import BackupError, checked_key
from packages.digests import Digests
from packages.events import EventTag, record_project_event
from packages.filenames import storage_path
from packages.journal import record_change
from packages.models import File, Role, RoleName
from packages.names import normalize_name
from packages.releases import find_project
from uploads.checks import UploadError, validate_form
from uploads.importing import ImportSkipped, build_form, hashed_copy
from uploads.service import Uploader, upload_file

DATAINDEX = "dataindex.json"
DUMPVERSIONS = ("1", "2")
# dataindex.json is read whole; a devpi with a million versions' descriptions stays far below.
MAX_DATAINDEX_BYTES = 1024**3
USER_AGENT = "manage.py import_devpi"
CHUNK = 1024 * 1024
DISTRIBUTION_SUFFIXES = (".whl", ".tar.gz", ".zip")
# devpi's upload form keys -> this index's (twine's) form fields. Name and version come from
# the file itself, as an upload's do; metadata_version too, so the fields stay valid for it.
SINGLE_FIELDS = {
    key: key
    for key in (
        "summary",
        "home_page",
        "author",
        "author_email",
        "maintainer",
        "maintainer_email",
        "license",
        "license_expression",
        "description",
        "description_content_type",
        "keywords",
        "download_url",
        "requires_python",
        "comment",
    )
}
MULTI_FIELDS = {
    "platform": "platform",
    "classifiers": "classifiers",
    "supported_platform": "supported_platform",
    "project_urls": "project_urls",
    "provides_dist": "provides_dist",
    "obsoletes_dist": "obsoletes_dist",
    "requires_dist": "requires_dist",
    "requires_external": "requires_external",
    "provides_extras": "provides_extra",
    "dynamic": "dynamic",
    "license_file": "license_file",
}

Write = Callable[[str], None]


class DevpiExportError(BackupError):
    """The directory is not a devpi export this code can read, or asks for something it cannot
    do (a name in two indexes with different files); nothing was written."""


@dataclass
class DevpiUser:
    username: str
    pwhash: str
    pwsalt: str
    email: str


@dataclass
class DevpiFile:
    index: str
    filename: str
    path: Path
    version: str
    hashes: dict[str, str]  # hashlib name -> hex digest, as the export records them


@dataclass
class DevpiProject:
    normalized: str
    indexes: list[str]
    owners: list[str]
    maintainers: list[str]
    versions: dict[str, dict]  # version -> devpi's metadata
    files: list[DevpiFile]
    versions_without_files: int = 0


@dataclass
class DevpiExport:
    directory: Path
    dumpversion: str
    users: dict[str, DevpiUser]
    projects: list[DevpiProject]
    skipped: list[str]  # one line per index, file kind or version left out, for the output


@dataclass
class DevpiReport:
    users_created: int = 0
    users_existing: list[str] = field(default_factory=list)
    unusable_passwords: list[str] = field(default_factory=list)
    projects_imported: int = 0
    projects_failed: list[str] = field(default_factory=list)
    files_created: int = 0
    files_existing: int = 0
    files_skipped: int = 0


# --- Reading dataindex.json -----------------------------------------------------------------


def _expect(value: object, kind: type, where: str) -> object:
    if not isinstance(value, kind):
        names = {dict: "an object", list: "a list", str: "a string"}
        raise DevpiExportError(f"{DATAINDEX}: {where} should be {names[kind]}, not {value!r:.80}")
    return value


def read_devpi_export(directory: Path, *, indexes: list[str] | None = None) -> DevpiExport:
    """1. Read and check dataindex.json (its shape, dumpversion, usernames, relpaths).
    2. Choose the indexes: those named, else every one but mirrors.
    3. Lay their projects over each other (see the module docstring), refusing a name whose
       common versions carry different files, and an owner the export does not have."""
    data = _load(directory)
    dumpversion = data.get("dumpversion")
    if dumpversion not in DUMPVERSIONS:
        raise DevpiExportError(
            f"{DATAINDEX}: dumpversion {dumpversion!r}; this code reads devpi's dumpversions "
            f"{', '.join(DUMPVERSIONS)}"
        )
    users = _users(_expect(data.get("users"), dict, "users"))
    all_indexes = _expect(data.get("indexes"), dict, "indexes")
    skipped: list[str] = []
    chosen = _choose_indexes(all_indexes, indexes, skipped)
    projects: dict[str, DevpiProject] = {}
    for name in chosen:
        for project in _index_projects(directory, name, all_indexes[name], users, skipped):
            if project.normalized in projects:
                _merge(projects[project.normalized], project)
            else:
                projects[project.normalized] = project
    return DevpiExport(
        directory=directory,
        dumpversion=dumpversion,
        users=users,
        projects=list(projects.values()),
        skipped=skipped,
    )


def _load(directory: Path) -> dict:
    path = directory / DATAINDEX
    try:
        size = path.stat().st_size
        if size > MAX_DATAINDEX_BYTES:
            raise DevpiExportError(f"{path} is {size} bytes; the limit is {MAX_DATAINDEX_BYTES}")
        data = json.loads(path.read_bytes())
    except FileNotFoundError as exc:
        raise DevpiExportError(
            f"{directory} has no {DATAINDEX}: not a devpi-export directory"
        ) from exc
    except (ValueError, RecursionError, OSError) as exc:
        raise DevpiExportError(f"cannot read {path}: {exc}") from exc
    return _expect(data, dict, "the top level")


def _users(raw: dict) -> dict[str, DevpiUser]:
    validator = UnicodeUsernameValidator()
    users = {}
    for username, config in raw.items():
        where = f"users[{username!r}]"
        _expect(config, dict, where)
        try:
            validator(username)
            MaxLengthValidator(get_user_model().username.field.max_length)(username)
        except ValidationError as exc:
            raise DevpiExportError(f"{DATAINDEX}: {where}: {exc.messages[0]}") from None
        values = {}
        for key in ("pwhash", "pwsalt", "email"):
            value = config.get(key) or ""
            values[key] = _expect(value, str, f"{where}.{key}")
        users[username] = DevpiUser(username=username, **values)
    return users


def _choose_indexes(all_indexes: dict, named: list[str] | None, skipped: list[str]) -> list[str]:
    for name, index in all_indexes.items():
        _expect(index, dict, f"indexes[{name!r}]")
        _expect(index.get("indexconfig"), dict, f"indexes[{name!r}].indexconfig")
        if name.count("/") != 1:
            raise DevpiExportError(f"{DATAINDEX}: index name {name!r} is not USER/INDEX")
    if named:
        missing = [name for name in named if name not in all_indexes]
        if missing:
            raise DevpiExportError(
                f"the export has no index {', '.join(missing)} (it has: "
                f"{', '.join(sorted(all_indexes)) or 'none'})"
            )
        mirrors = [name for name in named if _kind(all_indexes[name]) != "stage"]
        if mirrors:
            raise DevpiExportError(
                f"{', '.join(mirrors)}: not a private (stage) index; a mirror's files belong "
                "to its upstream (see UPSTREAM_INDEX_URL)"
            )
        return list(dict.fromkeys(named))
    chosen = []
    for name in sorted(all_indexes):
        if _kind(all_indexes[name]) == "stage":
            chosen.append(name)
        else:
            skipped.append(f"index {name}: a {_kind(all_indexes[name])} index, not imported")
    return chosen


def _kind(index: dict) -> str:
    return str(index["indexconfig"].get("type", ""))


def _index_projects(
    directory: Path, name: str, index: dict, users: dict[str, DevpiUser], skipped: list[str]
) -> Iterator[DevpiProject]:
    owner = name.split("/")[0]
    if owner not in users:
        raise DevpiExportError(f"{DATAINDEX}: index {name} belongs to {owner!r}, not in users")
    acl = _expect(index["indexconfig"].get("acl_upload", []), list, f"{name}.acl_upload")
    # ":ANONYMOUS:", ":AUTHENTICATED:" and ":group:" entries name no user.
    uploaders = [u for u in acl if isinstance(u, str) and not u.startswith(":") and u != owner]
    raw_projects = _expect(index.get("projects", {}), dict, f"indexes[{name!r}].projects")
    versions: dict[str, dict[str, dict]] = {}
    for project_name, project_versions in raw_projects.items():
        where = f"indexes[{name!r}].projects[{project_name!r}]"
        for version, metadata in _expect(project_versions, dict, where).items():
            _expect(metadata, dict, f"{where}[{version!r}]")
        versions.setdefault(normalize_name(project_name), {}).update(project_versions)
    files: dict[str, list[DevpiFile]] = {}
    kinds: dict[str, int] = {}
    for number, raw in enumerate(_expect(index.get("files", []), list, f"{name}.files")):
        where = f"indexes[{name!r}].files[{number}]"
        _expect(raw, dict, where)
        kind = raw.get("type")
        if kind != "releasefile":
            kinds[str(kind)] = kinds.get(str(kind), 0) + 1
            continue
        file = _file(directory, name, raw, where)
        project = normalize_name(_expect(raw.get("projectname"), str, f"{where}.projectname"))
        files.setdefault(project, []).append(file)
    for kind, count in sorted(kinds.items()):
        skipped.append(f"index {name}: {count} {kind} file(s), which this index does not keep")
    for normalized in sorted(set(versions) | set(files)):
        project_files = files.get(normalized, [])
        with_files = {file.version for file in project_files}
        yield DevpiProject(
            normalized=normalized,
            indexes=[name],
            owners=[owner],
            maintainers=list(uploaders),
            versions=versions.get(normalized, {}),
            files=project_files,
            versions_without_files=len(set(versions.get(normalized, {})) - with_files),
        )


def _file(directory: Path, index: str, raw: dict, where: str) -> DevpiFile:
    relpath = _expect(raw.get("relpath"), str, f"{where}.relpath")
    try:
        checked_key(relpath)
    except BackupError as exc:
        raise DevpiExportError(f"{DATAINDEX}: {where}: {exc}") from None
    path = directory / relpath
    mapping = _expect(raw.get("entrymapping", {}), dict, f"{where}.entrymapping")
    hashes = dict(_expect(mapping.get("hashes", {}), dict, f"{where}.entrymapping.hashes"))
    if isinstance(mapping.get("hash_spec"), str) and "=" in mapping["hash_spec"]:
        algorithm, _, digest = mapping["hash_spec"].partition("=")
        hashes.setdefault(algorithm, digest)
    if isinstance(mapping.get("md5"), str):  # devpi-server 2.1 exported md5 alone
        hashes.setdefault("md5", mapping["md5"])
    hashes = {
        str(algorithm): str(digest).lower()
        for algorithm, digest in hashes.items()
        if algorithm in hashlib.algorithms_guaranteed
    }
    # dumpversion 1 had no version on a file: the one its directory names (PROJECT/VERSION/).
    version = raw.get("version") or Path(relpath).parent.name
    return DevpiFile(
        index=index,
        filename=Path(relpath).name,
        path=path,
        version=_expect(version, str, f"{where}.version"),
        hashes=hashes,
    )


def _merge(kept: DevpiProject, other: DevpiProject) -> None:
    """The same name in two indexes: one project if every version both have carries the same
    files (a release pushed from one index to the other), else an error."""

    def files_of(project: DevpiProject, version: str) -> set[tuple[str, str]]:
        return {
            (f.filename, f.hashes.get("sha256", "")) for f in project.files if f.version == version
        }

    versions = {f.version for f in kept.files} & {f.version for f in other.files}
    differ = sorted(v for v in versions if files_of(kept, v) != files_of(other, v))
    if differ:
        raise DevpiExportError(
            f"project {kept.normalized} is in {', '.join(kept.indexes)} and {other.indexes[0]} "
            f"with different files for version(s) {', '.join(differ)}; choose one with --index"
        )
    known = {f.filename for f in kept.files}
    kept.files.extend(f for f in other.files if f.filename not in known)
    for version, metadata in other.versions.items():
        kept.versions.setdefault(version, metadata)
    kept.indexes.extend(other.indexes)
    kept.owners.extend(o for o in other.owners if o not in kept.owners)
    kept.maintainers = [
        m for m in dict.fromkeys(kept.maintainers + other.maintainers) if m not in kept.owners
    ]
    with_files = {f.version for f in kept.files}
    kept.versions_without_files = len(set(kept.versions) - with_files)


# --- Importing ------------------------------------------------------------------------------


def import_devpi(
    *,
    directory: Path,
    indexes: list[str] | None = None,
    dry_run: bool = False,
    trust_emails: bool = False,
    write: Write,
    progress: Write,
    every: int = 100,
) -> DevpiReport:
    """1. Read the export (read_devpi_export); refuse it before writing anything if it is
       malformed.
    2. Create its users (existing usernames are used as they are).
    3. Each project on its own: hash its files against the export, then upload them in one
       transaction and give its other Owners and Maintainers their roles.
    A dry run does all of it with objects going to a scratch folder, then rolls back."""
    export = read_devpi_export(directory, indexes=indexes)
    for line in export.skipped:
        write(f"skipped {line}")
    report = DevpiReport()
    if not dry_run:
        _import(
            export,
            report=report,
            trust_emails=trust_emails,
            write=write,
            progress=progress,
            every=every,
        )
        return report
    with tempfile.TemporaryDirectory(prefix="import-devpi-dry-run-") as scratch:
        scratch_storage = {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": scratch},
        }
        with (
            override_settings(STORAGES={**settings.STORAGES, "default": scratch_storage}),
            transaction.atomic(),
        ):
            _import(
                export,
                report=report,
                trust_emails=trust_emails,
                write=write,
                progress=progress,
                every=every,
            )
            transaction.set_rollback(True)
    return report


def _import(
    export: DevpiExport,
    *,
    report: DevpiReport,
    trust_emails: bool,
    write: Write,
    progress: Write,
    every: int,
) -> None:
    with transaction.atomic():
        users = {
            name: _user(user, report=report, trust_emails=trust_emails, write=write)
            for name, user in export.users.items()
        }
    total = sum(len(project.files) for project in export.projects)
    done = 0
    for project in export.projects:
        try:
            created, existing, skipped = _import_project(export, project, users=users)
        except ProjectRefused as exc:
            report.projects_failed.append(project.normalized)
            write(f"failed {project.normalized} ({', '.join(project.indexes)}): {exc}")
        else:
            report.projects_imported += 1
            report.files_created += created
            report.files_existing += existing
            report.files_skipped += len(skipped)
            for line in skipped:
                write(f"skipped {line}")
            note = (
                f", {project.versions_without_files} version(s) without files skipped"
                if project.versions_without_files
                else ""
            )
            write(
                f"imported {project.normalized} from {', '.join(project.indexes)}: "
                f"{created} new file(s), {existing} already here{note}"
            )
        before, done = done, done + len(project.files)
        if done // max(every, 1) > before // max(every, 1) or done == total:
            progress(f"files: {done}/{total}")


def _user(
    devpi: DevpiUser, *, report: DevpiReport, trust_emails: bool, write: Write
) -> AbstractBaseUser:
    model = get_user_model()
    existing = model.objects.filter(username__iexact=devpi.username).first()
    if existing is not None:
        report.users_existing.append(devpi.username)
        write(f"user {devpi.username}: already here, used as it is")
        return existing
    user = model(username=devpi.username)
    if devpi.pwhash.startswith("$argon2") and not devpi.pwsalt:
        # passlib's argon2 string is argon2-cffi's, which Django's hasher reads after "argon2".
        user.password = f"argon2{devpi.pwhash}"
        password = "devpi's password kept"
    else:
        user.set_unusable_password()
        report.unusable_passwords.append(devpi.username)
        password = "no usable password (an old devpi hash, or none): must reset it"
    user.save()  # Without an email, so the staff-given-address receiver stays out of it.
    address = devpi.email.strip()
    if address and not address_taken(address):
        Email.objects.create(user=user, email=address, primary=True, verified=trust_emails)
        model.objects.filter(pk=user.pk).update(email=address)
        password += f"; {address}{' (verified)' if trust_emails else ' (unverified)'}"
    elif address:
        password += f"; {address} belongs to another user here, not added"
    report.users_created += 1
    write(f"user {devpi.username}: created, {password}")
    return user


class ProjectRefused(Exception):
    pass


def _import_project(
    export: DevpiExport, project: DevpiProject, *, users: dict[str, AbstractBaseUser]
) -> tuple[int, int, list[str]]:
    """(files created, files already here, lines about files skipped); raises ProjectRefused
    having kept nothing."""
    digests = {file.filename: _checked_digests(export.directory, file) for file in project.files}
    owner = users[project.owners[0]]
    keys = [
        storage_path(blake2_256=digests[file.filename]["blake2_256"], filename=file.filename)
        for file in project.files
    ]
    created = existing = 0
    skipped: list[str] = []
    try:
        with transaction.atomic(), _as_an_import():
            for file in _upload_order(project.files):
                outcome = _upload(file, project=project, owner=owner, digests=digests)
                if outcome is None:
                    existing += 1
                elif outcome is True:
                    created += 1
                else:
                    skipped.append(f"{file.index}/{file.filename}: {outcome}")
            if created + existing:
                _grant_roles(project, users=users, by=owner)
    except UploadError as exc:
        _delete_unreferenced(keys)
        raise ProjectRefused(exc.message) from exc
    except BaseException:
        _delete_unreferenced(keys)
        raise
    return created, existing, skipped


def _upload_order(files: list[DevpiFile]) -> list[DevpiFile]:
    """Release by release as devpi had them, wheels first: a release's first file sets its
    metadata, and a wheel's METADATA is the reliable one (as import_dists does)."""
    versions = list(dict.fromkeys(file.version for file in files))
    return sorted(files, key=lambda f: (versions.index(f.version), not f.filename.endswith(".whl")))


def _checked_digests(directory: Path, file: DevpiFile) -> dict[str, str]:
    """The file's digests, once every hash the export records for it matches its bytes."""
    if not file.hashes:
        raise ProjectRefused(f"{file.filename}: the export records no hash to check it against")
    path = file.path
    try:
        if not path.resolve().is_relative_to(directory.resolve()):
            raise ProjectRefused(f"{file.filename}: its path leads out of the export")
        digests = Digests()
        hashers = {algorithm: hashlib.new(algorithm) for algorithm in file.hashes}
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                digests.update(chunk)
                for hasher in hashers.values():
                    hasher.update(chunk)
    except OSError as exc:
        raise ProjectRefused(f"{file.filename}: cannot read {path}: {exc}") from exc
    for algorithm, hasher in hashers.items():
        if hasher.hexdigest() != file.hashes[algorithm]:
            raise ProjectRefused(
                f"{file.filename}: its bytes do not have the {algorithm} the export records "
                "(damaged or changed since the export); nothing of this project was imported"
            )
    return digests.hexdigests()


@contextmanager
def _as_an_import() -> Iterator[None]:
    """The upload's checks, minus those about the person uploading now: these files were
    published on devpi already, by users whose addresses devpi never verified; and the
    new-project limit is for strangers, not staff moving an index in."""
    unlimited = {
        **settings.RATE_LIMITS,
        "project_create_user": f"{10**9}/1",
        "project_create_ip": f"{10**9}/1",
    }
    with override_settings(
        ACCEPT_LEGACY_FILENAMES=True,
        REQUIRE_VERIFIED_EMAIL=False,
        REQUIRE_TWO_FACTOR=False,
        RATE_LIMITS=unlimited,
    ):
        yield


def _upload(
    file: DevpiFile,
    *,
    project: DevpiProject,
    owner: AbstractBaseUser,
    digests: dict[str, dict[str, str]],
) -> bool | None | str:
    """True: created; None: already here (a second run); a string: skipped, and why."""
    try:
        post, _filetype = build_form(file.path)
    except ImportSkipped as exc:
        if file.filename.endswith(DISTRIBUTION_SUFFIXES):
            # Named as a distribution this index takes, but unreadable: damaged, not foreign.
            raise ProjectRefused(f"{file.filename}: {exc}") from exc
        return str(exc)  # An egg, an installer: kinds devpi keeps and this index does not.
    _overlay(post, project.versions.get(file.version, {}))
    # The digests the export vouches for: the upload's own digest check compares them with the
    # bytes it reads, so a file changed since _checked_digests is refused too.
    post["sha256_digest"] = digests[file.filename]["sha256"]
    with hashed_copy(file.path) as content:
        form = validate_form(post, {"content": content})
        result = upload_file(
            form=form,
            content=content,
            uploader=Uploader(user=owner, token=None, user_agent=USER_AGENT),
        )
    return True if result.created else None


def _overlay(post, metadata: dict) -> None:
    """devpi's metadata for the release over the file's own: what devpi showed and served."""
    for key, form_field in SINGLE_FIELDS.items():
        value = metadata.get(key)
        if isinstance(value, str) and value.strip() and value != "UNKNOWN":
            post[form_field] = value
    for key, form_field in MULTI_FIELDS.items():
        value = metadata.get(key)
        values = [value] if isinstance(value, str) else value
        if isinstance(values, list) and (strings := [v for v in values if isinstance(v, str)]):
            post.setlist(form_field, strings)


def _grant_roles(
    project: DevpiProject, *, users: dict[str, AbstractBaseUser], by: AbstractBaseUser
) -> None:
    """The other Owners and the Maintainers, journaled as the upload journals its Owner."""
    here = find_project(project.normalized)
    wanted = [(name, RoleName.OWNER) for name in project.owners[1:]]
    wanted += [(name, RoleName.MAINTAINER) for name in project.maintainers]
    for name, role_name in wanted:
        user = users.get(name) or get_user_model().objects.filter(username=name).first()
        if user is None:
            continue  # In devpi's acl_upload but no user of either index.
        _role, created = Role.objects.get_or_create(
            user=user, project=here, defaults={"role_name": role_name}
        )
        if created:
            record_change(project=here, action=f"add {role_name} {name}", user=by)
            record_project_event(
                project=here, tag=EventTag.ROLE_ADD, user=by, role_name=role_name, target_user=name
            )


def _delete_unreferenced(keys: list[str]) -> None:
    """After a project's transaction rolled back: the objects its uploads stored that no row
    uses (an object an earlier file row uses, this project's or another's, stays)."""
    storage = storages["default"]
    used = set(File.all_objects.filter(path__in=keys).values_list("path", flat=True))
    for key in keys:
        if key in used:
            continue
        for name in (key, f"{key}.metadata"):
            if storage.exists(name):
                storage.delete(name)
