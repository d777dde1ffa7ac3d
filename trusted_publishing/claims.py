"""Which publisher a verified token speaks for: the claims the public index checks per kind.

GitHub: `repository`, `repository_owner`, `repository_owner_id`, the workflow file of
`job_workflow_ref`, `environment` when the publisher names one, and never an
`event_name` of `pull_request_target` (it runs a fork's pull request with the base's rights).
GitLab: `project_path`, the CI file of `ci_config_ref_uri`, `environment` when set.
Google: `email` with `email_verified`, and `sub` when set. Generic: the issuer's claim rules.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.db.models import QuerySet

from trusted_publishing.models import Kind, MatchRule, PublisherFields
from trusted_publishing.oidc import Issuer


def _text(claims: dict, name: str) -> str:
    value = claims.get(name)
    return value if isinstance(value, str) else ""


def github_mismatch(publisher: PublisherFields, claims: dict) -> str | None:
    repository = f"{publisher.owner}/{publisher.repository}"
    if _text(claims, "repository").lower() != repository.lower():
        return "repository does not match"
    if _text(claims, "repository_owner").lower() != publisher.owner.lower():
        return "repository owner does not match"
    if publisher.owner_id and str(claims.get("repository_owner_id", "")) != publisher.owner_id:
        return "repository owner id does not match"
    workflow_path, at, _ref = _text(claims, "job_workflow_ref").partition("@")
    expected = f"{repository}/.github/workflows/"
    if (
        not at
        or workflow_path[: len(expected)].lower() != expected.lower()
        or workflow_path[len(expected) :] != publisher.workflow
    ):
        return "workflow does not match"
    if _text(claims, "event_name") == "pull_request_target":
        return "pull_request_target events may not publish"
    if publisher.environment and (
        _text(claims, "environment").lower() != publisher.environment.lower()
    ):
        return "environment does not match"
    return None


def gitlab_mismatch(publisher: PublisherFields, claims: dict, issuer: Issuer) -> str | None:
    if publisher.gitlab_issuer != issuer.url:
        return "issuer does not match"
    project_path = f"{publisher.owner}/{publisher.repository}"
    if _text(claims, "project_path").lower() != project_path.lower():
        return "project path does not match"
    host = urlsplit(issuer.url).netloc + urlsplit(issuer.url).path.rstrip("/")
    config_path, at, _ref = _text(claims, "ci_config_ref_uri").partition("@")
    expected = f"{host}/{project_path}//"
    if (
        not at
        or config_path[: len(expected)].lower() != expected.lower()
        or config_path[len(expected) :] != publisher.workflow
    ):
        return "CI configuration file does not match"
    if publisher.environment and _text(claims, "environment") != publisher.environment:
        return "environment does not match"
    return None


def google_mismatch(publisher: PublisherFields, claims: dict) -> str | None:
    if claims.get("email_verified") is not True:
        return "email is not verified"
    if _text(claims, "email").lower() != publisher.email.lower():
        return "email does not match"
    if publisher.subject and _text(claims, "sub") != publisher.subject:
        return "subject does not match"
    return None


def rule_matches(*, how: str, expected: str, actual: str) -> bool:
    if not expected:
        return False
    if how == MatchRule.IEXACT:
        return actual.lower() == expected.lower()
    if how == MatchRule.PREFIX:
        return actual.startswith(expected)
    if how == MatchRule.REF:
        return actual.partition("@")[0] == expected
    return actual == expected


def generic_mismatch(publisher: PublisherFields, claims: dict, issuer: Issuer) -> str | None:
    if issuer.generic is None or publisher.issuer_id != issuer.generic.pk:
        return "issuer does not match"
    rules = issuer.generic.claim_rules
    if not rules:
        return "the issuer has no claim rules"
    for rule in rules:
        name = rule.get("claim", "")
        expected = str(publisher.claims.get(name, ""))
        if not rule_matches(
            how=rule.get("match", MatchRule.EXACT), expected=expected, actual=_text(claims, name)
        ):
            return f"claim {name} does not match"
    return None


def mismatch(publisher: PublisherFields, claims: dict, issuer: Issuer) -> str | None:
    """Why `claims` are not this publisher's, or None when they are."""
    if publisher.kind != issuer.kind:
        return "kind does not match"
    if publisher.kind == Kind.GITHUB:
        return github_mismatch(publisher, claims)
    if publisher.kind == Kind.GITLAB:
        return gitlab_mismatch(publisher, claims, issuer)
    if publisher.kind == Kind.GOOGLE:
        return google_mismatch(publisher, claims)
    return generic_mismatch(publisher, claims, issuer)


def candidates(queryset: QuerySet, claims: dict, issuer: Issuer) -> QuerySet:
    """Narrow the rows in SQL before `mismatch` checks each (an index on kind, repository)."""
    queryset = queryset.filter(kind=issuer.kind)
    if issuer.kind == Kind.GITHUB:
        return queryset.filter(repository__iexact=_text(claims, "repository").partition("/")[2])
    if issuer.kind == Kind.GITLAB:
        return queryset.filter(repository__iexact=_text(claims, "project_path").rpartition("/")[2])
    if issuer.kind == Kind.GOOGLE:
        return queryset.filter(email__iexact=_text(claims, "email"))
    return queryset.filter(issuer=issuer.generic)


def matching(queryset: QuerySet, claims: dict, issuer: Issuer) -> list:
    rows = candidates(queryset, claims, issuer).order_by("pk")[:100]
    return [row for row in rows if mismatch(row, claims, issuer) is None]


def stored_claims(kind: str, claims: dict) -> dict[str, str]:
    """What an event keeps of the token: who built what (repository, workflow, ref, sha)."""
    if kind == Kind.GITHUB:
        picked = {
            "repository": claims.get("repository"),
            "workflow": claims.get("job_workflow_ref"),
            "ref": claims.get("ref"),
            "sha": claims.get("sha"),
            "environment": claims.get("environment"),
            "event_name": claims.get("event_name"),
        }
    elif kind == Kind.GITLAB:
        picked = {
            "repository": claims.get("project_path"),
            "workflow": claims.get("ci_config_ref_uri"),
            "ref": claims.get("ref"),
            "sha": claims.get("sha"),
            "environment": claims.get("environment"),
        }
    elif kind == Kind.GOOGLE:
        picked = {"email": claims.get("email"), "sub": claims.get("sub")}
    else:
        picked = {
            name: claims.get(name)
            for name in ("sub", "repository", "workflow", "workflow_ref", "ref", "sha")
        }
    return {key: str(value)[:400] for key, value in picked.items() if value not in (None, "")}
