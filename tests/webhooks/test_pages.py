"""The owners' page /manage/project/<name>/webhooks/ and staff's admin."""

from __future__ import annotations

import re
import time

import pytest

from accounts.login import AUTHENTICATED_AT_KEY
from packages.models import Project, ProjectEvent, Role
from tests.factories import make_user, post_upload, wheel_upload
from tests.webhooks.conftest import SECRET
from webhooks.models import Delivery, Subscription
from webhooks.subscriptions import MAX_PER_PROJECT, create_subscription

pytestmark = pytest.mark.django_db
PAGE = "/manage/project/demo/webhooks/"


def log_in(client, user, *, fresh: bool = True):
    client.force_login(user)
    session = client.session
    session[AUTHENTICATED_AT_KEY] = time.time() if fresh else 0
    session.save()
    return client


def add(client, url: str, events=("file.uploaded",), secret: str = ""):
    return client.post(PAGE, {"url": url, "events": list(events), "secret": secret})


def test_owner_adds_a_webhook_and_sees_its_generated_secret_once(client, owner):
    log_in(client, owner)
    assert client.get(PAGE).status_code == 200
    response = add(client, "https://ci.example.com/hook", ["file.uploaded", "release.yanked"])
    assert response.status_code == 200
    subscription = Subscription.objects.get()
    assert subscription.project.name == "demo" and subscription.created_by == owner
    assert subscription.events == ["file.uploaded", "release.yanked"]
    assert len(subscription.secret) >= 40
    assert "no-store" in response["Cache-Control"]
    shown = re.search(r'<code id="webhook-secret">([^<]+)</code>', response.content.decode())
    assert shown and shown.group(1) == subscription.secret
    page = client.get(PAGE).content.decode()
    assert "https://ci.example.com/hook" in page and subscription.secret not in page
    event = ProjectEvent.objects.get(tag="project:webhook:add")
    assert event.user == owner and event.additional["url"] == "https://ci.example.com/hook"


def test_owner_may_choose_the_secret(client, owner):
    log_in(client, owner)
    assert add(client, "https://ci.example.com/hook", secret=SECRET).status_code == 200
    assert Subscription.objects.get().secret == SECRET


def test_non_owners_cannot_add_or_see_webhooks(client, owner):
    maintainer = make_user("bob")
    Role.objects.create(user=maintainer, project=Project.objects.get(), role_name="Maintainer")
    for user in (maintainer, make_user("eve")):
        log_in(client, user)
        assert client.get(PAGE).status_code == 403
        assert add(client, "https://ci.example.com/hook").status_code == 403
    client.logout()
    assert add(client, "https://ci.example.com/hook")["Location"].startswith("/account/login/")
    assert not Subscription.objects.exists()


def test_the_page_asks_for_the_password_again(client, owner):
    log_in(client, owner, fresh=False)
    response = add(client, "https://ci.example.com/hook")
    assert response["Location"] == (
        "/account/reauthenticate/?next=%2Fmanage%2Fproject%2Fdemo%2Fwebhooks%2F"
    )
    assert client.get(PAGE)["Location"].startswith("/account/reauthenticate/")
    assert not Subscription.objects.exists()


@pytest.mark.parametrize(
    ("url", "events", "message"),
    [
        ("http://127.0.0.1/hook", ["file.uploaded"], "public internet"),
        ("http://localhost:8000/hook", ["file.uploaded"], "public internet"),
        ("http://[::1]/hook", ["file.uploaded"], "public internet"),
        ("http://169.254.169.254/latest", ["file.uploaded"], "public internet"),
        ("http://10.0.0.8/hook", ["file.uploaded"], "public internet"),
        ("ftp://ci.example.com/hook", ["file.uploaded"], "Enter a valid URL"),
        ("https://user:pw@ci.example.com/", ["file.uploaded"], "no credentials"),
        ("not a url", ["file.uploaded"], "Enter a valid URL"),
        ("https://ci.example.com/hook", [], "This field is required"),
        ("https://ci.example.com/hook", ["no.such.event"], "Select a valid choice"),
    ],
)
def test_bad_webhooks_are_refused_with_a_400(client, owner, settings, url, events, message):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    log_in(client, owner)
    response = add(client, url, events)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Subscription.objects.exists()


def test_an_empty_post_is_a_400_that_says_what_is_missing(client, owner):
    log_in(client, owner)
    response = client.post(PAGE)
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()


def test_a_project_has_a_bounded_number_of_webhooks(client, owner):
    project = Project.objects.get()
    for i in range(MAX_PER_PROJECT):
        create_subscription(
            project=project, url=f"https://ci.example.com/{i}", events=["file.uploaded"], by=owner
        )
    log_in(client, owner)
    response = add(client, "https://ci.example.com/one-more")
    assert response.status_code == 400
    assert f"at most {MAX_PER_PROJECT} webhooks" in response.content.decode()


def test_the_log_shows_each_delivery_and_redeliver_sends_it_again(
    client, owner, receiver, django_capture_on_commit_callbacks
):
    create_subscription(
        project=Project.objects.get(), url=receiver.url, events=["file.uploaded"],
        secret=SECRET, by=owner,
    )  # fmt: skip
    receiver.statuses = [500, 500, 500]
    with django_capture_on_commit_callbacks(execute=True):
        post_upload(client, wheel_upload("demo", "2.0"), owner.token)
    delivery = Delivery.objects.get()
    log_in(client, owner)
    page = client.get(PAGE).content.decode()
    assert str(delivery.pk) in page and '<span class="status-code">500</span>' in page
    assert "The receiver answered 500." in page and "answered 500" in page

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{PAGE}deliveries/{delivery.pk}/redeliver/")
    assert response["Location"] == PAGE
    again = Delivery.objects.exclude(pk=delivery.pk).get()
    assert again.redelivery_of == delivery and again.status == "delivered"
    assert receiver.received[-1].headers["X-Index-Delivery"] == str(again.pk)
    assert '<span class="status-code">200</span>' in client.get(PAGE).content.decode()


def test_owners_reach_only_their_own_projects_webhooks(client, owner):
    other_owner = make_user("carol")
    other = Project.objects.create(name="other", normalized_name="other")
    Role.objects.create(user=other_owner, project=other, role_name="Owner")
    theirs = create_subscription(
        project=other, url="https://ci.example.com/x", events=["file.uploaded"], by=other_owner
    )
    log_in(client, owner)
    assert client.post(f"{PAGE}{theirs.pk}/delete/").status_code == 404
    assert Subscription.objects.filter(pk=theirs.pk).exists()


def test_owner_removes_a_webhook(client, owner):
    subscription = create_subscription(
        project=Project.objects.get(), url="https://ci.example.com/x", events=["file.uploaded"],
        by=owner,
    )  # fmt: skip
    log_in(client, owner)
    assert client.get(f"{PAGE}{subscription.pk}/delete/").status_code == 405
    assert client.post(f"{PAGE}{subscription.pk}/delete/")["Location"] == PAGE
    assert not Subscription.objects.exists()
    assert ProjectEvent.objects.filter(tag="project:webhook:remove").exists()


def test_staff_subscribe_to_all_projects_in_admin_and_redeliver_there(
    client, owner, receiver, django_capture_on_commit_callbacks
):
    staff = make_user("ops", is_staff=True, is_superuser=True)
    client.force_login(staff)
    response = client.post(
        "/admin/webhooks/subscription/add/",
        {"url": receiver.url, "all_projects": "on", "events": ["file.uploaded"], "active": "on"},
    )
    assert response.status_code == 200, response.content.decode()
    subscription = Subscription.objects.get()
    assert subscription.all_projects and subscription.created_by == staff
    assert f'<code id="webhook-secret">{subscription.secret}</code>' in response.content.decode()
    receiver.secret = subscription.secret

    with django_capture_on_commit_callbacks(execute=True):
        post_upload(client, wheel_upload("another", "1.0"), owner.token)
    (received,) = receiver.received
    assert received.signature_valid and received.payload["project"] == "another"

    delivery = Delivery.objects.get()
    listing = client.get("/admin/webhooks/delivery/").content.decode()
    assert "file.uploaded" in listing and "another" in listing
    assert client.get(f"/admin/webhooks/delivery/{delivery.pk}/change/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/admin/webhooks/delivery/",
            {"action": "redeliver", "_selected_action": [str(delivery.pk)]},
        )
    assert len(receiver.received) == 2 and receiver.received[1].signature_valid
    assert Delivery.objects.filter(redelivery_of=delivery).exists()


def test_admin_needs_one_project_or_all(client):
    client.force_login(make_user("ops", is_staff=True, is_superuser=True))
    response = client.post(
        "/admin/webhooks/subscription/add/",
        {"url": "https://ci.example.com/", "events": ["file.uploaded"], "active": "on"},
    )
    assert response.status_code == 200
    assert "Choose one project, or all projects." in response.content.decode()
    assert not Subscription.objects.exists()
