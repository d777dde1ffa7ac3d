"""Every "may this identity do X to this project?" question, answered in one place.

Views, the upload endpoint, admin and commands all ask here. An answer is a `Denial` with the
message to show, or None when the action is allowed. The account half (frozen, verified
address, 2FA) comes from accounts.access.standing_denial; the project half (roles, token scope)
is here. Roles are read at the moment of asking, so a token or session stops working for a
project as soon as its user loses the role.

| Action                      | Owner | Maintainer | other user |
|-----------------------------|-------|------------|------------|
| upload                      | yes   | yes        | no         |
| manage, delete, yank        | yes   | no         | no         |
| archive, unarchive          | yes   | no         | no         |
| invite, change, remove roles| yes   | no         | no         |
| remove (leave) own role     | yes*  | yes        | -          |
| read a private project      | yes   | yes        | no (404)   |
| give a team a role          | yes   | no         | no         |
| move it into an organization| yes** | no         | no         |

* never the last Owner (packages/collaboration.py enforces that).
** and Owner of the organization too (organizations/permissions.py).

A project's Owners and Maintainers are its personal roles plus, for a project an organization
owns while that organization is approved and not frozen, the organization's Owners (as Owners)
and the members of its teams that hold a role on the project (as that role). `_role_and_standing`
reads all of it in one query, so every question below gets the same answer.

Reading. Who may read at all is `index_read_denial` (INDEX_READ_ACCESS); who may see one
project is `see_project_denial`; which projects a listing may show is `readable_scope`. All
three take the reader's user and, when they came with HTTP Basic `__token__`, the token
(`reader_of(request)`). A private project is for its collaborators, the members of the
organization that owns it (organizations/membership.py), and staff; a token reads what it may
upload to, and a scoped one only its projects. The grants are `_private_grants` (listings)
and `_read_grant` (one project, compiled once: it runs on every private read).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest
from django.utils import timezone

from accounts.access import Standing, standing_denial, standing_expressions, standing_of
from accounts.models import Account, ApiToken
from organizations.membership import member_organizations, organizations_of_member_id
from organizations.models import Organization, OrganizationRole, OrganizationRoleName
from organizations.permissions import owner_denial
from packages.models import File, Project, ReleaseAgeExemption, Role, RoleName, TeamProjectRole
from pypi_site.prepared import PreparedQuery


@dataclass(frozen=True)
class Denial:
    message: str


User = AbstractBaseUser | AnonymousUser


def _role_and_standing(*, user: User, project: Project) -> tuple[str | None, Standing | None]:
    """The user's role on the project (personal, or through its organization) and, when they
    have one, their account standing: one query, so pages that ask for every row stay cheap."""
    if not user.is_authenticated:
        return None, None
    if project.organization_id is None:
        row = _PERSONAL_ROLE.first(user_id=user.pk, project_id=project.pk)
        org_owner = team_owner = team_member = False
        if row is not None:
            personal, *standing = row
    else:
        row = _ROLE_THROUGH_ORGANIZATION.first(
            user_id=user.pk, project_id=project.pk, organization_id=project.organization_id
        )
        if row is not None:
            personal, org_owner, team_owner, team_member, *standing = row
    if row is None:
        return None, None
    owner = personal == RoleName.OWNER or org_owner or team_owner
    maintainer = personal is not None or team_member
    if not owner and not maintainer:
        return None, None
    return (RoleName.OWNER if owner else RoleName.MAINTAINER), Standing(*map(bool, standing))


def _role_query(user_id: int, project_id: int, organization_id: int | None = None) -> QuerySet:
    """The row `_role_and_standing` reads: the personal role, with an organization its three
    grants (`_organization_expressions`), then the standing (Standing's fields in order)."""
    user_ref = OuterRef("pk")
    expressions = {
        "personal": Subquery(
            Role.objects.filter(user=user_ref, project_id=project_id).values("role_name")[:1]
        )
    }
    if organization_id is not None:
        expressions.update(_organization_expressions(user_ref, project_id, organization_id))
    standing = standing_expressions(user_ref)
    return (
        get_user_model()
        .objects.filter(pk=user_id)
        .annotate(**expressions, **standing)
        .values_list(*expressions, *(field.name for field in fields(Standing)))
    )


# Every upload and every owner's page asks this; compiled once (pypi_site/prepared.py).
_PERSONAL_ROLE = PreparedQuery(_role_query, user_id=int, project_id=int)
_ROLE_THROUGH_ORGANIZATION = PreparedQuery(
    _role_query, user_id=int, project_id=int, organization_id=int
)


def _organization_expressions(
    user_ref: OuterRef, project_id: int, organization_id: int
) -> dict[str, Exists]:
    """Whether the user is an Owner of the project's organization, and whether a team of theirs
    holds Owner (or any) role on it; only while the organization is in good standing."""
    good = Organization.objects.in_good_standing().filter(pk=organization_id)
    team_roles = TeamProjectRole.objects.filter(
        project_id=project_id,
        team__organization_id=organization_id,
        team__members__user=user_ref,
    ).filter(Exists(good))
    return {
        "org_owner": Exists(
            OrganizationRole.objects.filter(
                user=user_ref,
                organization_id=organization_id,
                role_name=OrganizationRoleName.OWNER,
            ).filter(Exists(good))
        ),
        "team_owner": Exists(team_roles.filter(role_name=RoleName.OWNER)),
        "team_member": Exists(team_roles),
    }


def projects_with_roles(user: User) -> dict[int, str]:
    """{project id: role} for every project the user has a role on, personal or through an
    organization (the same grants as `_role_and_standing`, for listing them)."""
    if not user.is_authenticated:
        return {}
    roles: dict[int, str] = {}
    good = Organization.objects.in_good_standing()
    through_teams = TeamProjectRole.objects.filter(
        team__members__user=user,
        project__organization__in=good,
        team__organization=F("project__organization"),
    ).values_list("project_id", "role_name")
    for project_id, role_name in through_teams:
        if roles.get(project_id) != RoleName.OWNER:
            roles[project_id] = role_name
    owned = Project.objects.filter(
        organization__in=good.filter(roles__user=user, roles__role_name=OrganizationRoleName.OWNER)
    ).values_list("pk", flat=True)
    roles.update(dict.fromkeys(owned, RoleName.OWNER))
    for project_id, role_name in Role.objects.filter(user=user).values_list(
        "project_id", "role_name"
    ):
        if roles.get(project_id) != RoleName.OWNER:
            roles[project_id] = role_name
    return roles


def token_scope_projects(*, user: User, read_only: bool) -> QuerySet[Project]:
    """The projects a token of this user may be scoped to (accounts.tokens asks through
    `register_scope_rule`). An upload token: those they have a role on, personal or through an
    organization (`projects_with_roles`, the grants `upload_denial` checks). A read token:
    also those of the organizations they are a member of, which they read (`_private_grants`)."""
    rule = Q(pk__in=sorted(projects_with_roles(user)))
    if read_only:
        rule |= Q(organization__in=member_organizations(user))
    return Project.objects.filter(rule)


def _frozen(user: User) -> Denial:
    return Denial(f"The user '{user.get_username()}' is frozen.")


def upload_denial(*, user: User, project: Project, token: ApiToken | None = None) -> Denial | None:
    """Owners and Maintainers upload; a project-scoped token only to its own projects; then the
    account must be in standing (PyPI's checks 7 and 8, in that order). An archived project
    grants nobody upload, with PyPI's message for a missing permission. A read token never."""
    if token is not None and token.read_only:
        return Denial("Invalid API Token: a read-only token cannot upload.")
    if token is not None and token.scoped and not token.projects.filter(pk=project.pk).exists():
        return Denial(
            f"Invalid API Token: project-scoped token is not valid for project: '{project.name}'"
        )
    role_name, standing = _role_and_standing(user=user, project=project)
    if role_name is None or project.is_archived:
        name = user.get_username() if user.is_authenticated else ""
        return Denial(
            f"The user '{name}' isn't allowed to upload to project "
            f"'{project.name}'. See {settings.HELP_URL}#project-name for more information."
        )
    if standing.frozen or not user.is_active:
        return _frozen(user)
    if message := standing_denial(user, uploading=True, standing=standing):
        return Denial(message)
    if (
        project.organization_id is not None
        and not Organization.objects.in_good_standing().filter(pk=project.organization_id).exists()
    ):
        # The public index's check 9.
        return Denial(
            "Organization account owning this project is inactive. See "
            f"{settings.HELP_URL}#admin-intervention for more information."
        )
    return None


def create_project_denial(*, user: User, token: ApiToken | None = None) -> Denial | None:
    """Only user-wide tokens create projects; a scoped token names projects that already exist.
    (The per-user and per-IP creation limit is uploads' to apply, with a 429.)"""
    if not user.is_authenticated:
        return Denial("You must log in first.")
    if token is not None and token.read_only:
        return Denial("Invalid API Token: a read-only token cannot upload.")
    if token is not None and token.scoped:
        return Denial("Invalid API Token: project-scoped token cannot create new projects.")
    standing = standing_of(user)
    if standing.frozen or not user.is_active:
        return _frozen(user)
    if message := standing_denial(user, uploading=True, standing=standing):
        return Denial(message)
    return None


def manage_denial(*, user: User, project: Project) -> Denial | None:
    """Settings, releases, yank, delete and roles belong to Owners in good standing."""
    if not user.is_authenticated:
        return Denial("You must log in first.")
    role_name, standing = _role_and_standing(user=user, project=project)
    if role_name != RoleName.OWNER:
        return Denial(
            f"The user '{user.get_username()}' isn't an Owner of project '{project.name}'."
        )
    if standing.frozen or not user.is_active:
        return _frozen(user)
    if message := standing_denial(user, standing=standing):
        return Denial(message)
    return None


def archive_denial(*, user: User, project: Project) -> Denial | None:
    """Archiving and unarchiving are Owners' settings."""
    return manage_denial(user=user, project=project)


def change_roles_denial(*, user: User, project: Project) -> Denial | None:
    """Inviting collaborators, changing roles, removing others, revoking invitations."""
    return manage_denial(user=user, project=project)


def remove_role_denial(*, user: User, role: Role) -> Denial | None:
    """Owners remove anyone's role; everyone may remove (leave) their own."""
    if user.is_authenticated and role.user_id == user.pk:
        return see_collaborators_denial(user=user, project=role.project)
    return change_roles_denial(user=user, project=role.project)


def see_collaborators_denial(*, user: User, project: Project) -> Denial | None:
    """Any member may see who else has a role (and leave); Owners also manage them."""
    if not user.is_authenticated:
        return Denial("You must log in first.")
    role_name, standing = _role_and_standing(user=user, project=project)
    if role_name is None:
        return Denial(f"The user '{user.get_username()}' has no role on project '{project.name}'.")
    if standing.frozen or not user.is_active:
        return _frozen(user)
    return None


@dataclass(frozen=True)
class Reader:
    """Who is reading: the session's user, or the user behind HTTP Basic credentials with the
    token they used (packages/middleware.py puts them on the request)."""

    user: User
    token: ApiToken | None = None


def reader_of(request: HttpRequest) -> Reader:
    basic_user = getattr(request, "basic_user", None)
    if basic_user is not None:
        return Reader(user=basic_user, token=getattr(request, "basic_token", None))
    if settings.SESSION_COOKIE_NAME not in request.COOKIES:
        # No session to ask about: asking would mark it accessed, and Django would then add
        # `Vary: Cookie` to public pages that a CDN or nginx's static copies serve to everyone.
        return Reader(user=AnonymousUser())
    return Reader(user=request.user)


def _is_staff(user: User) -> bool:
    return user.is_authenticated and user.is_active and user.is_staff


def index_read_denial(*, user: User) -> Denial | None:
    """With INDEX_READ_ACCESS=authenticated, every read needs a user (session or Basic)."""
    if settings.INDEX_READ_ACCESS == "authenticated" and not user.is_authenticated:
        return Denial("This index requires credentials to read.")
    return None


# --- The read rule ------------------------------------------------------------------------
# Written as a filter on Project for listings (`readable_projects`, `readable_scope`) and as
# one query compiled once for one project (`see_project_denial`), which runs on every private
# read and must stay cheap; tests/accounts/test_authorization_matrix.py and
# tests/packages/test_private_projects.py hold both to the same answers.


def _private_grants(user: User) -> Q:
    """Private projects a signed-in, non-staff user reads, as a filter for listings: those
    they have a role on, and those of an organization they are a member of (in good standing).
    `_read_grant` asks the same of one project."""
    personal = Q(Exists(Role.objects.filter(user_id=user.pk, project_id=OuterRef("pk"))))
    return personal | Q(organization__in=member_organizations(user))


def readable_projects(*, user: User, token: ApiToken | None = None) -> Q | None:
    """The filter on Project for what this reader may see, or None for everything (staff).

    Public projects: everyone. Private ones: staff, and users with a grant while their account
    is neither inactive nor frozen. A scoped token narrows the private ones to its projects
    (an upload token reads what it may upload to; a read token the same, and never uploads).
    """
    public = Q(is_private=False)
    if not user.is_authenticated or not user.is_active:
        return public
    in_scope = Q()
    if token is not None and token.scoped:
        through = ApiToken.projects.through.objects.filter(
            apitoken_id=token.pk, project_id=OuterRef("pk")
        )
        in_scope = Q(Exists(through))
    if user.is_staff:
        return public | in_scope if in_scope else None
    frozen = Exists(Account.objects.filter(user_id=user.pk, is_frozen=True))
    return public | (_private_grants(user) & ~Q(frozen) & in_scope)


def see_project_denial(
    *, user: User, project: Project, token: ApiToken | None = None
) -> Denial | None:
    """May this reader know the project exists? A public one: yes. A private one: staff, and
    users with a grant while their account is neither inactive nor frozen; a scoped token only
    within its scope. Everyone else is told there is no such project (views answer 404). The
    same rule as `readable_projects`, in one small query (`_read_grant`)."""
    if not project.is_private:
        return None
    hidden = Denial(f"No project named {project.name!r}.")
    if not user.is_authenticated or not user.is_active:
        return hidden
    scoped = token is not None and token.scoped
    grant = _read_grant(user=user, project=project, token=token if scoped else None)
    if grant is None or (scoped and not grant.in_scope):
        return hidden
    if user.is_staff:
        return None
    return None if (grant.personal or grant.member) and not grant.frozen else hidden


@dataclass(frozen=True)
class _ReadGrant:
    personal: bool  # a role on the project
    member: bool  # a role in the organization that owns it, while in good standing
    in_scope: bool  # the token names the project (asked only of a scoped token)
    frozen: bool


def _read_grant_query(user_id: int, project_id: int, token_id: int) -> QuerySet:
    """`_private_grants` for one project, with the frozen flag and a token's scope: one row."""
    project = OuterRef("pk")
    return (
        Project.objects.filter(pk=project_id)
        .annotate(
            personal=Exists(Role.objects.filter(user_id=user_id, project_id=project)),
            member=Exists(
                organizations_of_member_id(user_id).filter(pk=OuterRef("organization_id"))
            ),
            in_scope=Exists(
                ApiToken.projects.through.objects.filter(apitoken_id=token_id, project_id=project)
            ),
            frozen=Exists(Account.objects.filter(user_id=user_id, is_frozen=True)),
        )
        .values_list("personal", "member", "in_scope", "frozen")
    )


# Every private read asks this, and compiling the query would cost ten times running it.
_READ_GRANT = PreparedQuery(_read_grant_query, user_id=int, project_id=int, token_id=int)


def _read_grant(*, user: User, project: Project, token: ApiToken | None) -> _ReadGrant | None:
    """What grants this user holds on the project, read now (None if the project is gone)."""
    row = _READ_GRANT.first(
        user_id=user.pk, project_id=project.pk, token_id=0 if token is None else token.pk
    )
    return None if row is None else _ReadGrant(*map(bool, row))


def see_files_denial(
    *, user: User, project: Project, token: ApiToken | None = None
) -> Denial | None:
    """Files and metadata: `see_project_denial`, and a quarantined project's only for its
    members, while their account is not frozen, and staff (a token within its scope)."""
    if denial := see_project_denial(user=user, project=project, token=token):
        return denial
    if not project.is_quarantined:
        return None
    quarantined = Denial(f"Project '{project.name}' is quarantined.")
    if not user.is_authenticated or not user.is_active:
        return quarantined
    in_scope = token is None or not token.scoped or token.projects.filter(pk=project.pk).exists()
    if not in_scope:
        return quarantined
    if user.is_staff:
        return None
    role_name, standing = _role_and_standing(user=user, project=project)
    if role_name is None or standing.frozen:
        return quarantined
    return None


@dataclass(frozen=True)
class ReadScope:
    """Which private projects a listing may show this reader: all (staff) or these ids.
    `access_class` names the set, so a cached listing is shared only by readers who see the
    same projects."""

    all_private: bool = False
    private_ids: frozenset[int] = frozenset()

    def q(self, prefix: str = "") -> Q:
        """The filter on Project, or on a model whose `prefix` leads to one."""
        if self.all_private:
            return Q()
        public = Q(**{f"{prefix}is_private": False})
        if self.private_ids:
            return public | Q(**{f"{prefix}pk__in": sorted(self.private_ids)})
        return public

    @property
    def access_class(self) -> str:
        if self.all_private:
            return "all"
        if not self.private_ids:
            return "public"
        ids = ",".join(str(i) for i in sorted(self.private_ids))
        return "p" + hashlib.sha256(ids.encode()).hexdigest()[:24]


PUBLIC_SCOPE = ReadScope()


def readable_scope(*, user: User, token: ApiToken | None = None) -> ReadScope:
    """The listing filter for this reader, by `readable_projects`: no query for anonymous
    readers, one for the rest."""
    if not user.is_authenticated or not user.is_active:
        return PUBLIC_SCOPE
    rule = readable_projects(user=user, token=token)
    if rule is None:
        return ReadScope(all_private=True)
    ids = Project.objects.filter(rule, is_private=True).values_list("pk", flat=True)
    return ReadScope(private_ids=frozenset(ids))


def change_team_roles_denial(*, user: User, project: Project) -> Denial | None:
    """Giving a team of the project's organization a role on it, changing or removing one."""
    return manage_denial(user=user, project=project)


def transfer_project_denial(
    *, user: User, project: Project, organization: Organization
) -> Denial | None:
    """Moving a project into an organization takes an Owner of both (as the public index
    requires), the organization approved and not frozen."""
    if denial := manage_denial(user=user, project=project):
        return denial
    if message := owner_denial(user=user, organization=organization):
        return Denial(message)
    if project.organization_id == organization.pk:
        return Denial(f"Project '{project.name}' already belongs to '{organization.name}'.")
    return None


# --- Release age (MIN_RELEASE_AGE): what a reader may see of an upstream project -------------


@dataclass(frozen=True)
class ReleaseAgePolicy:
    """Upstream files uploaded after `cutoff` (or with no upload-time, unless allowed) are
    hidden, except in the `exempt_versions` (canonical) staff exempted."""

    cutoff: datetime
    exempt_versions: frozenset[str]

    def hides(self, *, upstream_upload_time: datetime | None, canonical_version: str) -> bool:
        if canonical_version in self.exempt_versions:
            return False
        if upstream_upload_time is None:
            return not settings.MIN_RELEASE_AGE_ALLOW_UNKNOWN
        return upstream_upload_time > self.cutoff


def release_age_policy(*, project: Project) -> ReleaseAgePolicy | None:
    """None when the policy hides nothing of this project: a local project (never affected),
    MIN_RELEASE_AGE off, or a project-wide exemption that has not expired."""
    if not settings.MIN_RELEASE_AGE or not project.is_upstream:
        return None
    now = timezone.now()
    exempt = set(
        ReleaseAgeExemption.objects.filter(
            normalized_name=project.normalized_name, expires__gt=now
        ).values_list("version", flat=True)
    )
    if "" in exempt:
        return None
    return ReleaseAgePolicy(
        cutoff=now - timedelta(seconds=settings.MIN_RELEASE_AGE), exempt_versions=frozenset(exempt)
    )


def hidden_file_ids(*, project: Project) -> frozenset[int]:
    """The project's files the release-age policy hides now: one query, on upstream projects
    only. Pages are cached under this set, so a file appears once it is old enough."""
    policy = release_age_policy(project=project)
    if policy is None:
        return frozenset()
    young = Q(upstream_upload_time__gt=policy.cutoff)
    if not settings.MIN_RELEASE_AGE_ALLOW_UNKNOWN:
        young |= Q(upstream_upload_time__isnull=True)
    rows = File.objects.filter(young, release__project=project).values_list(
        "id", "upstream_upload_time", "release__canonical_version"
    )
    return frozenset(
        pk
        for pk, uploaded, version in rows
        if policy.hides(upstream_upload_time=uploaded, canonical_version=version)
    )


def file_age_denial(*, project: Project, file: File) -> Denial | None:
    """403 for a file URL the release-age policy hides, naming the age and the policy."""
    policy = release_age_policy(project=project)
    if policy is None:
        return None
    canonical = file.release.canonical_version
    if not policy.hides(
        upstream_upload_time=file.upstream_upload_time, canonical_version=canonical
    ):
        return None
    hours = settings.MIN_RELEASE_AGE / 3600
    policy_text = (
        f"this index serves upstream files once they are {hours / 24:g} days old (MIN_RELEASE_AGE)"
        if hours >= 24
        else f"this index serves upstream files once they are {hours:g} hours old (MIN_RELEASE_AGE)"
    )
    if file.upstream_upload_time is None:
        return Denial(
            f"{file.filename} is held back by the release-age policy: the upstream index gives "
            f"no upload time for it, so its age is unknown, and {policy_text}."
        )
    age_hours = (timezone.now() - file.upstream_upload_time).total_seconds() / 3600
    return Denial(
        f"{file.filename} is held back by the release-age policy: it was uploaded upstream "
        f"{age_hours:.1f} hours ago, and {policy_text}."
    )
