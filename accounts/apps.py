from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_save

        from accounts.emails import record_staff_given_address

        post_save.connect(
            record_staff_given_address,
            sender=get_user_model(),
            dispatch_uid="accounts.record_staff_given_address",
        )
