"""Account pages at PyPI's paths."""

from django.urls import path

from accounts.views import auth, manage

urlpatterns = [
    path("account/login/", auth.login, name="login"),
    path("account/two-factor/", auth.two_factor, name="login-two-factor"),
    path("account/recovery-code/", auth.recovery_code, name="login-recovery-code"),
    path("account/logout/", auth.logout, name="logout"),
    path("account/register/", auth.register, name="register"),
    path("account/verify-email/", auth.verify_email, name="verify-email"),
    path(
        "account/request-password-reset/",
        auth.request_password_reset,
        name="request-password-reset",
    ),
    path("account/reset-password/", auth.reset_password, name="reset-password"),
    path("account/reauthenticate/", auth.reauthenticate, name="reauthenticate"),
    path("manage/account/", manage.account, name="manage-account"),
    path("manage/account/change-password/", manage.change_password, name="change-password"),
    path("manage/account/email/add/", manage.add_email, name="add-email"),
    path(
        "manage/account/email/<int:email_id>/<str:action>/",
        manage.email_action,
        name="email-action",
    ),
    path("manage/account/two-factor/", manage.two_factor, name="manage-two-factor"),
    path("manage/account/two-factor/remove-totp/", manage.remove_totp, name="remove-totp"),
    path("manage/account/totp-provision", manage.totp_provision, name="totp-provision"),
    path("manage/account/totp-provision/", manage.totp_provision),
    path("manage/account/recovery-codes/", manage.recovery_codes, name="recovery-codes"),
    path("manage/account/token/", manage.api_tokens, name="api-tokens"),
    path("manage/account/token/new/", manage.create_api_token, name="create-api-token"),
    path(
        "manage/account/token/<str:identifier>/revoke/",
        manage.revoke_api_token,
        name="revoke-api-token",
    ),
]
