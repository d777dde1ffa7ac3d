"""Project events become signed POSTs to a real receiver on loopback: payloads, signatures,
retries, the delivery log, redelivery and the SSRF refusal."""

from __future__ import annotations

import pytest

from packages import collaboration, releases
from packages.models import File, Project, Release, Role
from tests.factories import make_project, post_upload, sdist_upload, wheel_upload
from tests.webhooks.conftest import SECRET
from tests.webhooks.receiver import running_receiver
from webhooks import events, sending
from webhooks.models import Delivery, DeliveryStatus, EventKind, Subscription
from webhooks.subscriptions import create_subscription

pytestmark = pytest.mark.django_db
ALL_KINDS = list(EventKind.values)


def subscribe(owner, url: str, kinds=ALL_KINDS, project_name: str = "demo") -> Subscription:
    project = Project.objects.get(name=project_name)
    return create_subscription(project=project, url=url, events=kinds, secret=SECRET, by=owner)


def test_an_upload_delivers_signed_file_uploaded_and_release_published(
    client, owner, receiver, django_capture_on_commit_callbacks
):
    subscribe(owner, receiver.url, [EventKind.FILE_UPLOADED, EventKind.RELEASE_PUBLISHED])
    with django_capture_on_commit_callbacks(execute=True):
        assert post_upload(client, wheel_upload("demo", "2.0"), owner.token).status_code == 200
    first, second = receiver.received
    assert first.signature_valid and second.signature_valid
    assert [r.headers["X-Index-Event"] for r in (first, second)] == [
        "file.uploaded",
        "release.published",
    ]
    payload = first.payload
    assert payload == {
        "delivery": first.headers["X-Index-Delivery"],
        "event": "file.uploaded",
        "project": "demo",
        "version": "2.0",
        "filename": "demo-2.0-py3-none-any.whl",
        "time": payload["time"],
        "actor": "alice",
        "details": {},
    }
    assert payload["time"].startswith("20")
    assert first.headers["Content-Type"] == "application/json"
    assert first.path == "/hook"
    delivery = Delivery.objects.get(pk=payload["delivery"])
    assert (delivery.status, delivery.status_code, delivery.attempts) == ("delivered", 200, 1)
    assert delivery.response_excerpt == "answered 200"
    assert delivery.duration_ms is not None

    # The second file of 2.0 is an upload, not a new release.
    with django_capture_on_commit_callbacks(execute=True):
        assert post_upload(client, sdist_upload("demo", "2.0"), owner.token).status_code == 200
    assert [r.headers["X-Index-Event"] for r in receiver.received[2:]] == ["file.uploaded"]


def test_a_wrong_secret_does_not_verify(client, owner, django_capture_on_commit_callbacks):
    with running_receiver("another secret entirely") as other:
        subscribe(owner, other.url)
        with django_capture_on_commit_callbacks(execute=True):
            post_upload(client, wheel_upload("demo", "2.0"), owner.token)
        assert other.received and not any(r.signature_valid for r in other.received)


def test_yank_unyank_deletions_and_role_changes_are_delivered(
    owner, receiver, django_capture_on_commit_callbacks
):
    subscription = subscribe(owner, receiver.url)
    project = Project.objects.get(name="demo")
    release = Release.objects.get(version="1.0")
    bob = Role.objects.create(
        user=type(owner).objects.create_user("bob"), project=project, role_name="Maintainer"
    )
    with django_capture_on_commit_callbacks(execute=True):
        releases.yank_release(release=release, reason="broken", user=owner)
    with django_capture_on_commit_callbacks(execute=True):
        releases.unyank_release(release=release, user=owner)
    with django_capture_on_commit_callbacks(execute=True):
        collaboration.change_role(role=bob, role_name="Owner", by=owner)
    with django_capture_on_commit_callbacks(execute=True):
        releases.delete_file(file=File.objects.get(), user=owner)
    with django_capture_on_commit_callbacks(execute=True):
        releases.delete_release(release=release, user=owner)
    with django_capture_on_commit_callbacks(execute=True):
        releases.delete_project(project=project, user=owner)
    payloads = [r.payload for r in receiver.received]
    assert all(r.signature_valid for r in receiver.received)
    assert [p["event"] for p in payloads] == [
        "release.yanked",
        "release.unyanked",
        "role.changed",
        "file.deleted",
        "release.deleted",
        "project.deleted",
    ]
    assert payloads[0]["details"] == {"reason": "broken"}
    assert payloads[2]["details"] == {
        "change": "changed",
        "user": "bob",
        "role": "Owner",
        "previous_role": "Maintainer",
    }
    assert payloads[3]["filename"] == "demo-1.0-py3-none-any.whl"
    assert payloads[5]["project"] == "demo" and payloads[5]["actor"] == "alice"

    # The deleted project's webhook stays (with its log) but never matches a new "demo".
    subscription.refresh_from_db()
    assert subscription.project_name == "demo"
    # It points at the deleted project's row, kept for the point-in-time view, never a live one.
    assert not Project.objects.filter(pk=subscription.project_id).exists()
    assert subscription.deliveries.count() == 6
    newcomer = make_project("demo")
    with django_capture_on_commit_callbacks(execute=True):
        events.dispatch(newcomer.events.create(project_name="demo", tag="project:release:unyank"))
    assert len(receiver.received) == 6


def test_a_receiver_that_fails_first_gets_the_same_delivery_again(
    client, owner, django_capture_on_commit_callbacks
):
    with running_receiver(SECRET, statuses=[500]) as flaky:
        subscribe(owner, flaky.url, [EventKind.FILE_UPLOADED])
        with django_capture_on_commit_callbacks(execute=True):
            post_upload(client, wheel_upload("demo", "2.0"), owner.token)
        failed, retried = flaky.received
    assert failed.body == retried.body and retried.signature_valid
    assert failed.headers["X-Index-Delivery"] == retried.headers["X-Index-Delivery"]
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.status_code, delivery.attempts) == ("delivered", 200, 2)


def test_a_receiver_that_keeps_failing_is_logged_after_the_bounded_attempts(
    client, owner, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOKS_INLINE_ATTEMPTS = 3
    with running_receiver(SECRET, statuses=[500, 503, 500, 200]) as down:
        subscribe(owner, down.url, [EventKind.FILE_UPLOADED])
        with django_capture_on_commit_callbacks(execute=True):
            response = post_upload(client, wheel_upload("demo", "2.0"), owner.token)
        assert len(down.received) == 3
    assert response.status_code == 200  # The upload does not care.
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.status_code, delivery.attempts) == ("failed", 500, 3)
    assert delivery.error == "The receiver answered 500."
    assert delivery.response_excerpt == "answered 500"


def test_redirects_are_not_followed(client, owner, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOKS_INLINE_ATTEMPTS = 1
    with running_receiver(SECRET, statuses=[302]) as moved:
        subscribe(owner, moved.url, [EventKind.FILE_UPLOADED])
        with django_capture_on_commit_callbacks(execute=True):
            post_upload(client, wheel_upload("demo", "2.0"), owner.token)
        assert [r.path for r in moved.received] == ["/hook"]
    delivery = Delivery.objects.get()
    assert delivery.status == "failed" and "redirects are not followed" in delivery.error


def test_a_slow_receiver_times_out(client, owner, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOKS_INLINE_ATTEMPTS = 1
    settings.WEBHOOKS_TIMEOUT = 0.3
    with running_receiver(SECRET) as slow:
        slow.delay = 1
        subscribe(owner, slow.url, [EventKind.FILE_UPLOADED])
        with django_capture_on_commit_callbacks(execute=True):
            post_upload(client, wheel_upload("demo", "2.0"), owner.token)
    delivery = Delivery.objects.get()
    assert delivery.status == "failed" and delivery.error == "No answer within 0.3 seconds."


def test_loopback_is_refused_without_the_setting(
    client, owner, receiver, settings, django_capture_on_commit_callbacks
):
    subscribe(owner, receiver.url, [EventKind.FILE_UPLOADED])
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    with django_capture_on_commit_callbacks(execute=True):
        post_upload(client, wheel_upload("demo", "2.0"), owner.token)
    assert receiver.received == []
    delivery = Delivery.objects.get()
    # Refused at once: retrying cannot make the address public.
    assert (delivery.status, delivery.attempts, delivery.status_code) == ("failed", 1, None)
    assert "is not on the public internet" in delivery.error
    assert "WEBHOOKS_ALLOW_PRIVATE" in delivery.error


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "169.254.169.254", "10.1.2.3"])
def test_names_that_resolve_to_private_addresses_are_refused(settings, host):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    from packages.outbound import AddressRefused

    with pytest.raises(AddressRefused):
        sending._post(url=f"http://{host}:9/hook", body=b"{}", headers={})


def test_redelivery_is_a_new_delivery_of_the_same_event(
    client, owner, receiver, django_capture_on_commit_callbacks
):
    subscribe(owner, receiver.url, [EventKind.FILE_UPLOADED])
    with django_capture_on_commit_callbacks(execute=True):
        post_upload(client, wheel_upload("demo", "2.0"), owner.token)
    original = Delivery.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        again = events.redeliver(original)
    first, second = receiver.received
    assert second.signature_valid
    assert second.headers["X-Index-Delivery"] == str(again.pk) != str(original.pk)
    assert {**first.payload, "delivery": None} == {**second.payload, "delivery": None}
    again.refresh_from_db()
    assert again.redelivery_of == original and again.status == DeliveryStatus.DELIVERED


def test_staff_subscriptions_receive_every_projects_events(
    client, owner, receiver, django_capture_on_commit_callbacks
):
    Subscription.objects.create(
        all_projects=True, url=receiver.url, events=["file.uploaded"], secret=SECRET
    )
    with django_capture_on_commit_callbacks(execute=True):
        post_upload(client, wheel_upload("other", "1.0"), owner.token)
    (received,) = receiver.received
    assert received.payload["project"] == "other" and received.signature_valid


def test_a_delivered_job_is_not_sent_twice(
    client, owner, receiver, django_capture_on_commit_callbacks
):
    from webhooks.jobs import deliver

    subscribe(owner, receiver.url, [EventKind.FILE_UPLOADED])
    with django_capture_on_commit_callbacks(execute=True):
        post_upload(client, wheel_upload("demo", "2.0"), owner.token)
    deliver(str(Delivery.objects.get().pk))
    assert len(receiver.received) == 1
