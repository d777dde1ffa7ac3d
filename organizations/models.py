"""Organizations as the public index has them: an organization (name, display name, URL,
description) with Owners, Managers and Members, teams of its members, invitations by mail, and
its audit history (OrganizationEvent).

Which projects an organization owns, and the roles its teams hold on them, are packages' rows
(`Project.organization`, `TeamProjectRole`): this app sits below packages and never imports it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class OrganizationQuerySet(models.QuerySet):
    def in_good_standing(self) -> OrganizationQuerySet:
        """Approved and not frozen by staff: only these grant anything to their members."""
        return self.filter(status=Organization.Status.APPROVED, is_active=True)


class Organization(models.Model):
    class Status(models.TextChoices):
        # Staff review a new organization when ORGANIZATIONS_REQUIRE_APPROVAL is on.
        PENDING = "pending", "Awaiting approval"
        APPROVED = "approved", "Approved"
        DECLINED = "declined", "Declined"

    # The account name in URLs: the same rule as project names (organizations/names.py).
    name = models.CharField(max_length=50)
    normalized_name = models.CharField(max_length=50, editable=False)
    display_name = models.CharField(max_length=100)
    link_url = models.URLField(max_length=400, verbose_name="URL")
    description = models.TextField(max_length=400)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    # False while staff have frozen it: its members keep their personal roles only.
    is_active = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = OrganizationQuerySet.as_manager()

    class Meta:
        constraints = [
            # A declined request does not keep its name from the next applicant.
            models.UniqueConstraint(
                fields=["normalized_name"],
                condition=~Q(status="declined"),
                name="unique_organization_name",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def in_good_standing(self) -> bool:
        return self.status == self.Status.APPROVED and self.is_active


class OrganizationRoleName(models.TextChoices):
    # Warehouse's roles, less Billing Manager (there is no billing here).
    OWNER = "Owner"
    MANAGER = "Manager"
    MEMBER = "Member"


class OrganizationRole(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="organization_roles"
    )
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="roles")
    role_name = models.CharField(max_length=20, choices=OrganizationRoleName.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organization"], name="unique_organization_role"
            )
        ]

    def __str__(self) -> str:
        return f"{self.role_name} {self.user} of {self.organization}"


class Team(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=50)
    # Lowercased, so "Core" and "core" are one team.
    normalized_name = models.CharField(max_length=50, editable=False)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "normalized_name"], name="unique_team_name"
            )
        ]

    def __str__(self) -> str:
        return f"{self.organization.name}/{self.name}"


class TeamMember(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_memberships"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="unique_team_member")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"


class OrganizationInvitation(models.Model):
    """An Owner's offer of a role in the organization; accepted or declined before `expires`."""

    class Status(models.TextChoices):
        PENDING = "pending"
        ACCEPTED = "accepted"
        DECLINED = "declined"
        EXPIRED = "expired"
        REVOKED = "revoked"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="organization_invitations"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invitations"
    )
    role_name = models.CharField(max_length=20, choices=OrganizationRoleName.choices)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    created = models.DateTimeField(auto_now_add=True)
    expires = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organization"],
                condition=Q(status="pending"),
                name="one_pending_organization_invitation",
            )
        ]

    def __str__(self) -> str:
        return f"{self.role_name} invitation for {self.user} to {self.organization}"


class OrganizationEvent(models.Model):
    """An organization's audit history: creation, review, members, teams, projects, staff."""

    organization = models.ForeignKey(
        Organization, null=True, on_delete=models.SET_NULL, related_name="events"
    )
    # Kept so the history outlives the organization's row.
    organization_name = models.CharField(max_length=50, db_index=True)
    tag = models.CharField(max_length=100)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    additional = models.JSONField(default=dict, blank=True)
    time = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.organization_name} {self.tag}"
