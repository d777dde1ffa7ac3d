"""Forms of the organizations app; every field bounded."""

from __future__ import annotations

from django import forms

from organizations.models import OrganizationRoleName
from organizations.names import MAX_LENGTH


class OrganizationDetailsForm(forms.Form):
    display_name = forms.CharField(max_length=100, label="Display name")
    link_url = forms.URLField(
        max_length=400,
        label="URL",
        assume_scheme="https",
        help_text="The organization's home page, starting with http:// or https://.",
    )
    description = forms.CharField(max_length=400, widget=forms.Textarea(attrs={"rows": 3}))

    def clean_link_url(self) -> str:
        url = self.cleaned_data["link_url"]
        if not url.lower().startswith(("http://", "https://")):
            raise forms.ValidationError("Use an http:// or https:// address.")
        return url


class CreateOrganizationForm(OrganizationDetailsForm):
    name = forms.CharField(
        max_length=MAX_LENGTH,
        label="Organization account name",
        help_text="Used in URLs (/org/<name>/): letters, digits, '.', '_' and '-'.",
    )
    field_order = ["name", "display_name", "link_url", "description"]


class InviteForm(forms.Form):
    username = forms.CharField(max_length=150)
    role_name = forms.ChoiceField(
        choices=OrganizationRoleName.choices, label="Role", initial=OrganizationRoleName.MEMBER
    )


class ChangeRoleForm(forms.Form):
    role_id = forms.IntegerField()
    role_name = forms.ChoiceField(choices=OrganizationRoleName.choices)


class RoleForm(forms.Form):
    role_id = forms.IntegerField()


class InvitationForm(forms.Form):
    invitation_id = forms.IntegerField()


class TeamForm(forms.Form):
    name = forms.CharField(max_length=MAX_LENGTH, label="Team name")


class TeamMemberForm(forms.Form):
    username = forms.CharField(max_length=150)


class MemberForm(forms.Form):
    member_id = forms.IntegerField()


class DeleteOrganizationForm(forms.Form):
    """The name typed again, as PyPI asks before deleting anything."""

    confirm_organization_name = forms.CharField(
        max_length=MAX_LENGTH, label="Type the organization's name to confirm"
    )

    def __init__(self, *args: object, organization_name: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.organization_name = organization_name

    def clean_confirm_organization_name(self) -> str:
        typed = self.cleaned_data["confirm_organization_name"].strip()
        if typed != self.organization_name:
            raise forms.ValidationError(f"'{typed}' is not the same as '{self.organization_name}'.")
        return typed
