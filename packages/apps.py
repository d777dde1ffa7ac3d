from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate, post_save


class PackagesConfig(AppConfig):
    name = "packages"

    def ready(self) -> None:
        from accounts.tokens import register_scope_rule
        from packages import staff
        from packages.flags import clear_cache
        from packages.models import AdminFlag
        from packages.permissions import token_scope_projects

        # After `migrate` (and after each test database flush): the staff groups exist with
        # their permissions, so no data migration is needed.
        post_migrate.connect(staff.setup_staff_groups_after_migrate, sender=self)
        post_save.connect(lambda **kwargs: clear_cache(), sender=AdminFlag, weak=False)
        # accounts sits below packages: the token pages learn who may scope a token to what here.
        register_scope_rule(token_scope_projects)
        post_delete.connect(lambda **kwargs: clear_cache(), sender=AdminFlag, weak=False)
