"""An index with one of everything an export must carry, made through the domain functions
(uploads through the real upload path, so bytes and metadata files are in storage).

Used in-process by tests/backups and, in a `manage.py shell` subprocess, by the round-trip test
in tests/e2e (`python manage.py shell -c "from tests.backups.seed import seed_index; ..."`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyotp
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import override_settings

from accounts import moderation as account_moderation
from accounts.emails import add_email
from accounts.events import record_user_event
from accounts.models import UserEvent
from accounts.tokens import create_api_token, revoke_api_token
from accounts.twofactor import enable_totp, use_recovery_code
from organizations import membership, registration, teams
from organizations import moderation as organization_moderation
from packages import collaboration, moderation, ownership, releases
from packages.models import AdminFlag, File, Project, Release, RoleName
from packages.staff import ADMINISTRATORS, MODERATORS
from tests.dists import make_sdist, make_wheel
from uploads.importing import import_file
from webhooks.models import Delivery, Subscription

# Argon2 takes a second a hash on a busy machine, and the seed makes fourteen; these are still
# real hashes, checked by Django's own hasher after the move.
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@override_settings(PASSWORD_HASHERS=FAST_HASHERS)
def seed_index() -> dict[str, str]:
    """Returns the plain-text API tokens by username (they must still work after a move)."""
    users = get_user_model()
    admin = users.objects.create_superuser("root-admin", "root@example.com", "root-password")
    admin.groups.add(Group.objects.get(name=ADMINISTRATORS))
    alice = users.objects.create_user("alice", "alice@example.com", "alice-password")
    bob = users.objects.create_user("bob", "bob@example.com", "bob-password", first_name="Bøb")
    bob.is_staff = True
    bob.save()
    bob.groups.add(Group.objects.get(name=MODERATORS))
    bob.user_permissions.add(Permission.objects.get(codename="view_file"))
    carol = users.objects.create_user("carol", "carol@example.com", "carol-password")
    gone = users.objects.create_user("gone", "gone@example.com", "gone-password")
    users.objects.create_user("inactive", "", "x", is_active=False)
    custom = Group.objects.create(name="auditors")
    custom.permissions.add(Permission.objects.get(codename="view_journalentry"))

    # Two-factor: a TOTP secret, its recovery codes, one of them used.
    secret = pyotp.random_base32()
    codes = enable_totp(user=alice, secret=secret, code=pyotp.TOTP(secret).now())
    assert use_recovery_code(user=alice, code=codes[0], ip_address="2001:db8::1")
    add_email(user=alice, address="alice.second@example.com", ip_address="192.0.2.7")
    record_user_event(
        user=carol, tag=UserEvent.Tag.LOGIN_FAILURE, ip_address="198.51.100.2", reason="nested"
    )

    with tempfile.TemporaryDirectory() as folder:
        dists = Path(folder)
        for name, version, kind in [
            ("demo-one", "1.0", "wheel"),
            ("demo-one", "1.0", "sdist"),
            ("demo-one", "2.0b1", "wheel"),
            ("demo-two", "0.1", "wheel"),
            ("demo-gone", "3.0", "wheel"),
        ]:
            maker = make_wheel if kind == "wheel" else make_sdist
            filename, content = maker(name, version)
            (dists / filename).write_bytes(content)
            result = import_file(path=dists / filename, user=alice)
            assert result.status == "created", result
    one = Project.objects.get(normalized_name="demo-one")
    two = Project.objects.get(normalized_name="demo-two")

    # JSON columns with several keys (jsonb reorders them), text beyond ASCII.
    Release.objects.filter(project=one, version="1.0").update(
        summary="Ünïcode ✓ summary",
        project_urls={"Zeta": "https://example.com/z", "Alpha": "https://example.com/a"},
        classifiers=["Programming Language :: Python :: 3", "Framework :: Django"],
    )
    releases.yank_release(
        release=Release.objects.get(project=one, version="2.0b1"), reason="broken", user=alice
    )
    moderation.set_project_limits(
        project=one, upload_limit=200 * 1024**2, total_size_limit=None, reason="big", by=admin
    )

    # Roles: an accepted invitation, a pending one.
    invitation = collaboration.invite_collaborator(
        project=one, username="bob", role_name=RoleName.MAINTAINER, invited_by=alice
    )
    collaboration.accept_invitation(invitation=invitation, user=bob)
    collaboration.invite_collaborator(
        project=one, username="carol", role_name=RoleName.OWNER, invited_by=alice
    )

    # An organization owning demo-one, a member in a team with a role on it, a pending
    # invitation, a frozen organization, and their histories.
    acme = registration.create_organization(
        name="Acme", display_name="Acme Ünïcode", link_url="https://acme.example/",
        description="Widgets.", by=alice, ip_address="192.0.2.9",
    )  # fmt: skip
    ownership.transfer_project(project=one, organization=acme, by=alice)
    accepted = membership.invite_member(
        organization=acme, username="bob", role_name="Manager", invited_by=alice
    )
    membership.accept_invitation(invitation=accepted, user=bob)
    membership.invite_member(
        organization=acme, username="carol", role_name="Member", invited_by=alice
    )
    core = teams.create_team(organization=acme, name="Core", by=bob)
    teams.add_team_member(team=core, username="bob", by=alice)
    ownership.set_team_role(project=one, team=core, role_name=RoleName.OWNER, by=alice)
    frozen = registration.create_organization(
        name="frozen-co", display_name="Frozen", link_url="https://f.example/",
        description="", by=carol,
    )  # fmt: skip
    organization_moderation.freeze_organization(organization=frozen, reason="spam", by=admin)

    tokens = {
        "alice": create_api_token(user=alice, description="all projects").plaintext,
        "bob": create_api_token(user=bob, projects=[one], description="demo-one only").plaintext,
    }
    orphaned = create_api_token(user=alice, projects=[Project.objects.get(name="demo-gone")])
    revoke_api_token(user=carol, identifier=create_api_token(user=carol).token.identifier)

    # A deleted project and user: the filename registry, journal and events outlive them.
    releases.delete_project(project=Project.objects.get(name="demo-gone"), user=alice)
    assert orphaned.token.projects.count() == 0
    gone.delete()
    moderation.quarantine_project(project=two, reason="report #1", notice="Under review", by=bob)
    moderation.prohibit_name(name="evil-pkg", comment="typosquat", by=admin)
    moderation.set_flag(
        flag=AdminFlag.Flag.DISALLOW_NEW_USER_REGISTRATION,
        enabled=True,
        reason="spam wave",
        banner="Registration is closed",
        by=admin,
    )
    account_moderation.freeze_user(user=carol, reason="abuse", by=admin)
    # Webhooks last, so none of the events above is delivered anywhere; one logged delivery.
    hook = Subscription.objects.create(
        project=Project.objects.get(name="demo-one"),
        project_name="demo-one",
        url="https://hooks.example.com/index",
        events=["file.uploaded"],
        secret="webhook-secret",
        created_by=alice,
    )
    Delivery.objects.create(
        subscription=hook, event="file.uploaded", payload={"project": "demo-one"}, attempts=1
    )
    assert File.objects.filter(metadata_sha256="").exists()  # the sdist: no .metadata
    return tokens
