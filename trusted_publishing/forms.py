from __future__ import annotations

from django import forms

from trusted_publishing.models import Kind, OidcIssuer

# The form fields each kind shows, in order, with their labels and hints.
KIND_FIELDS: dict[str, list[tuple[str, str, str, bool]]] = {
    Kind.GITHUB: [
        ("owner", "Owner", "The GitHub user or organization, e.g. octo-org", True),
        ("repository", "Repository name", "e.g. sampleproject", True),
        (
            "owner_id",
            "Owner id",
            "The owner's numeric GitHub id (the id field of GitHub's users API), so a renamed or "
            "re-registered owner cannot publish",
            True,
        ),
        ("workflow", "Workflow name", "The file under .github/workflows/, e.g. release.yml", True),
        ("environment", "Environment name (optional)", "e.g. pypi; strongly encouraged", False),
    ],
    Kind.GITLAB: [
        ("owner", "Namespace", "The user or group, with subgroups: my-group/sub", True),
        ("repository", "Project name", "e.g. sampleproject", True),
        ("workflow", "Top-level pipeline file path", "e.g. .gitlab-ci.yml", True),
        ("environment", "Environment name (optional)", "e.g. release", False),
        (
            "issuer_url",
            "GitLab URL (optional)",
            "For a self-managed GitLab, its address, e.g. https://gitlab.example.com",
            False,
        ),
    ],
    Kind.GOOGLE: [
        ("email", "Service account email", "e.g. publisher@project.iam.gserviceaccount.com", True),
        ("subject", "Subject (optional)", "The service account's unique id", False),
    ],
    Kind.GENERIC: [],
}


class PublisherForm(forms.Form):
    """One kind's fields; a generic publisher also picks an issuer and gives its claims."""

    def __init__(self, *args, kind: str, pending: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        if pending:
            self.fields["project_name"] = forms.CharField(
                label="Project name", max_length=200, help_text="The project to create on first use"
            )
        for name, label, hint, required in KIND_FIELDS.get(kind, []):
            self.fields[name] = forms.CharField(
                label=label, help_text=hint, required=required, max_length=400
            )
        if kind == Kind.GENERIC:
            self.fields["issuer"] = forms.ModelChoiceField(
                queryset=OidcIssuer.objects.filter(enabled=True).order_by("name"),
                label="Issuer",
                help_text="Issuers are registered by the index's staff",
            )
            self.fields["claims"] = forms.CharField(
                label="Claims",
                widget=forms.Textarea(attrs={"rows": 4}),
                max_length=4000,
                help_text="One claim=value a line, for each claim the issuer's rules name",
            )

    def clean_claims(self) -> dict[str, str]:
        claims = {}
        for line in self.cleaned_data["claims"].splitlines():
            if not line.strip():
                continue
            name, eq, value = line.partition("=")
            if not eq or not name.strip():
                raise forms.ValidationError(f"Not claim=value: {line[:80]!r}")
            claims[name.strip()] = value.strip()
        return claims

    def publisher_fields(self) -> dict[str, object]:
        data = {k: v for k, v in self.cleaned_data.items() if k != "project_name"}
        return {"kind": self.kind, **data}
