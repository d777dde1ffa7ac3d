"""Forms of the packages app: search parameters and the owners' confirmations."""

from __future__ import annotations

from django import forms
from django.http import QueryDict
from trove_classifiers import classifiers as known_classifiers

from packages.lifecycle import MAX_NOTE_LENGTH
from packages.search import MAX_RESULTS, PAGE_SIZE, Order


class SearchForm(forms.Form):
    """`/search/?q=&c=&o=&page=`; unknown classifiers and orders are ignored, not errors."""

    q = forms.CharField(required=False, max_length=200, label="Search projects")
    c = forms.MultipleChoiceField(required=False, label="Classifiers")
    o = forms.ChoiceField(required=False, choices=Order.choices, label="Order by")
    page = forms.IntegerField(required=False, min_value=1, max_value=MAX_RESULTS // PAGE_SIZE)

    def __init__(self, data: QueryDict) -> None:
        data = data.copy()
        wanted = dict.fromkeys(c for c in data.getlist("c") if c in known_classifiers)
        data.setlist("c", list(wanted)[:10])
        super().__init__(data)
        self.fields["c"].choices = [(c, c) for c in data.getlist("c")]

    def parameters(self) -> dict:
        """Cleaned values; a field that does not validate takes its default."""
        self.is_valid()
        cleaned = self.cleaned_data
        return {
            "query": cleaned.get("q") or "",
            "classifiers": cleaned.get("c") or [],
            "order": cleaned.get("o") or Order.RELEVANCE,
            "page": cleaned.get("page") or 1,
        }


class YankForm(forms.Form):
    """Yanking breaks installs that do not pin the version, so the owner types the version."""

    reason = forms.CharField(
        required=False,
        max_length=1000,
        label="Reason (optional)",
        help_text="Shown to people who install this version anyway, and on its page.",
        widget=forms.TextInput,
    )
    confirm = forms.CharField(max_length=255, label="Type the version to confirm")

    def __init__(self, *args, version: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.version = version
        self.fields["confirm"].label = f"Type “{version}” to confirm"

    def clean_confirm(self) -> str:
        value = self.cleaned_data["confirm"].strip()
        if value != self.version:
            raise forms.ValidationError(f"That is not “{self.version}”; nothing was yanked.")
        return value


class ArchiveForm(forms.Form):
    """PEP 792's optional reason, shown beside the archived status."""

    note = forms.CharField(
        required=False,
        max_length=MAX_NOTE_LENGTH,
        label="Note (optional)",
        help_text="Public: shown on the project's page and in the simple API, e.g. where the "
        "work continues.",
        widget=forms.TextInput,
    )


class ConfirmForm(forms.Form):
    """Destructive actions: the owner types the name of what goes, as on PyPI."""

    confirm = forms.CharField(max_length=255, label="Type the name to confirm")

    def __init__(self, *args, expected: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.expected = expected
        self.fields["confirm"].label = f"Type “{expected}” to confirm"

    def clean_confirm(self) -> str:
        value = self.cleaned_data["confirm"].strip()
        if value != self.expected:
            raise forms.ValidationError(f"That is not “{self.expected}”; nothing was deleted.")
        return value


class VisibilityForm(forms.Form):
    visibility = forms.ChoiceField(choices=[("private", "Private"), ("public", "Public")])


class TransferForm(forms.Form):
    """Which of the user's organizations should own the project."""

    organization = forms.ChoiceField(label="New owner organization")

    def __init__(self, *args: object, choices: list[str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organization"].choices = [(name, name) for name in choices]


class RemoveFromOrganizationForm(forms.Form):
    """Which of the organization's projects goes back to being personal, and which member
    becomes its Owner."""

    project = forms.ChoiceField(label="Project")
    owner = forms.ChoiceField(
        label="New personal Owner",
        help_text="A member of the organization. The organization's teams lose their roles on "
        "it; other collaborators keep theirs.",
    )

    def __init__(
        self, *args: object, projects: list[str], owners: list[str], **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["project"].choices = [(name, name) for name in projects]
        self.fields["owner"].choices = [(name, name) for name in owners]
