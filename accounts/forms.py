"""Forms for the account pages: they parse and validate input, the domain modules act."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from accounts.registration import USERNAME_MAX_LENGTH, validate_username
from accounts.tokens import scopable_projects

MAX_PASSWORD_LENGTH = 4096  # PyPI's cap; Argon2 hashes anything, but not for free.


class LoginForm(forms.Form):
    username = forms.CharField(max_length=USERNAME_MAX_LENGTH)
    password = forms.CharField(max_length=MAX_PASSWORD_LENGTH, widget=forms.PasswordInput)


class TotpForm(forms.Form):
    totp_value = forms.CharField(
        label="Authentication code",
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class RecoveryCodeForm(forms.Form):
    recovery_code_value = forms.CharField(label="Recovery code", max_length=32)


class PasswordForm(forms.Form):
    password = forms.CharField(max_length=MAX_PASSWORD_LENGTH, widget=forms.PasswordInput)


class NewPasswordMixin(forms.Form):
    """A new password typed twice and run through Django's validators."""

    new_password = forms.CharField(max_length=MAX_PASSWORD_LENGTH, widget=forms.PasswordInput)
    password_confirm = forms.CharField(
        label="Confirm password", max_length=MAX_PASSWORD_LENGTH, widget=forms.PasswordInput
    )

    def user_for_validation(self) -> AbstractBaseUser | None:
        return None

    def clean(self) -> dict:
        data = super().clean()
        password = data.get("new_password")
        if password and password != data.get("password_confirm"):
            self.add_error("password_confirm", "Your passwords don't match. Try again.")
        elif password:
            try:
                password_validation.validate_password(password, self.user_for_validation())
            except forms.ValidationError as exc:
                self.add_error("new_password", exc)
        return data


class RegistrationForm(NewPasswordMixin):
    username = forms.CharField(max_length=USERNAME_MAX_LENGTH, validators=[validate_username])
    email = forms.EmailField(max_length=254)
    field_order = ["username", "email", "new_password", "password_confirm"]

    def user_for_validation(self) -> AbstractBaseUser | None:
        # Lets UserAttributeSimilarityValidator refuse a password like the username.
        return get_user_model()(
            username=self.cleaned_data.get("username", ""),
            email=self.cleaned_data.get("email", ""),
        )


class ResetPasswordForm(NewPasswordMixin):
    def __init__(self, *args, user: AbstractBaseUser, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def user_for_validation(self) -> AbstractBaseUser | None:
        return self.user


class ChangePasswordForm(NewPasswordMixin):
    password = forms.CharField(
        label="Current password", max_length=MAX_PASSWORD_LENGTH, widget=forms.PasswordInput
    )
    field_order = ["password", "new_password", "password_confirm"]

    def __init__(self, *args, user: AbstractBaseUser, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def user_for_validation(self) -> AbstractBaseUser | None:
        return self.user

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("The password is not right. Try again.")
        return password


class RequestPasswordResetForm(forms.Form):
    username_or_email = forms.CharField(label="Username or email", max_length=254)


class AddEmailForm(forms.Form):
    email = forms.EmailField(max_length=254)


class ProjectIdsField(forms.ModelMultipleChoiceField):
    """Ticked projects by id. An id past 64 bits must be refused here: SQLite raises
    OverflowError on it in an `__in` query rather than matching nothing."""

    def clean(self, value):
        for pk in value if isinstance(value, list | tuple) else ():
            if not (str(pk).isascii() and str(pk).isdigit() and len(str(pk)) <= 18):
                raise forms.ValidationError(
                    self.error_messages["invalid_pk_value"],
                    code="invalid_pk_value",
                    params={"pk": str(pk)[:20]},
                )
        return super().clean(value)


class ApiTokenForm(forms.Form):
    """Scope: the whole account (empty) or some of the user's projects."""

    description = forms.CharField(max_length=200)
    projects = ProjectIdsField(
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave all unticked for a token valid for every project, including new ones.",
    )
    expires = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Optional: the token stops working at the end of this day (UTC).",
    )
    read_only = forms.BooleanField(
        required=False,
        label="Read only",
        help_text="For installers and CI that download private projects: it cannot upload.",
    )

    def __init__(self, *args, user: AbstractBaseUser, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        # Every project a token of theirs may name (a read token's choices include an upload
        # token's); issue_api_token refuses an upload token a project they only read.
        self.fields["projects"].queryset = scopable_projects(user=user, read_only=True).order_by(
            "normalized_name"
        )

    def clean_description(self) -> str:
        description = self.cleaned_data["description"].strip()
        if self.user.api_tokens.filter(description=description).exists():
            raise forms.ValidationError("API token name already in use")
        return description

    def clean_expires(self) -> datetime | None:
        day = self.cleaned_data.get("expires")
        if day is None:
            return None
        expires = datetime.combine(day, time.min, tzinfo=UTC) + timedelta(days=1)
        if expires <= timezone.now():
            raise forms.ValidationError("The expiry date must be in the future.")
        return expires
