"""Which project events become which webhook deliveries, and their payloads.

Subscribed through a post_save receiver on packages.models.ProjectEvent (see apps.py): the
receiver runs inside the writer's transaction, so the delivery rows commit or roll back with
the change itself, and the job that sends them is enqueued to run after that commit.
"""

from __future__ import annotations

import uuid

from django.db.models import Q

from packages.events import EventTag
from packages.models import File, ProjectEvent
from pypi_site.jobs import enqueue
from pypi_site.prepared import PreparedObjects
from webhooks.jobs import deliver
from webhooks.models import Delivery, EventKind, Subscription

KINDS_BY_TAG = {
    EventTag.FILE_ADD: EventKind.FILE_UPLOADED,
    EventTag.RELEASE_YANK: EventKind.RELEASE_YANKED,
    EventTag.RELEASE_UNYANK: EventKind.RELEASE_UNYANKED,
    EventTag.FILE_REMOVE: EventKind.FILE_DELETED,
    EventTag.RELEASE_REMOVE: EventKind.RELEASE_DELETED,
    EventTag.PROJECT_REMOVE: EventKind.PROJECT_DELETED,
    EventTag.ROLE_ADD: EventKind.ROLE_CHANGED,
    EventTag.ROLE_CHANGE: EventKind.ROLE_CHANGED,
    EventTag.ROLE_REMOVE: EventKind.ROLE_CHANGED,
}
_ROLE_CHANGES = {
    EventTag.ROLE_ADD: "added",
    EventTag.ROLE_CHANGE: "changed",
    EventTag.ROLE_REMOVE: "removed",
}


def on_project_event(
    sender: type, instance: ProjectEvent, created: bool, raw: bool = False, **kwargs: object
) -> None:
    if created and not raw:
        dispatch(instance)


def dispatch(event: ProjectEvent) -> list[Delivery]:
    """Create a delivery for each subscription that wants this event, and enqueue each.

    One query when nobody subscribed (the usual upload); "release.published" costs a count of
    the release's files, only when some subscription wants it.
    """
    kind = KINDS_BY_TAG.get(event.tag)
    if kind is None:
        return []
    if event.project_id is not None:
        subscriptions = _SUBSCRIPTIONS_OF_PROJECT.all(project_id=event.project_id)
    else:
        subscriptions = list(
            Subscription.objects.filter(all_projects=True, active=True).order_by("pk")
        )
    wanted = {k for subscription in subscriptions for k in subscription.events}
    kinds = [kind] if kind in wanted else []
    if (
        kind == EventKind.FILE_UPLOADED
        and EventKind.RELEASE_PUBLISHED in wanted
        and _is_first_file(event)
    ):
        kinds.append(EventKind.RELEASE_PUBLISHED)
    deliveries = [
        _create_delivery(subscription=subscription, kind=k, payload=payload_of(event, kind=k))
        for k in kinds
        for subscription in subscriptions
        if k in subscription.events
    ]
    return deliveries


# Every upload asks this (nearly always to find nothing); compiled once (pypi_site/prepared.py).
_SUBSCRIPTIONS_OF_PROJECT = PreparedObjects(
    Subscription,
    lambda project_id: Subscription.objects.filter(
        Q(all_projects=True) | Q(project_id=project_id), active=True
    ).order_by("pk"),
    project_id=int,
)


def _is_first_file(event: ProjectEvent) -> bool:
    # The upload holds the project's row lock, so two first files of one release cannot both
    # count one.
    version = event.additional.get("version")
    files = File.objects.filter(release__project_id=event.project_id, release__version=version)
    return files.count() == 1


def payload_of(event: ProjectEvent, *, kind: str) -> dict:
    """The JSON body without its delivery id (each delivery adds its own)."""
    additional = event.additional
    details: dict[str, object] = {}
    if event.tag in _ROLE_CHANGES:
        details = {
            "change": _ROLE_CHANGES[event.tag],
            "user": additional.get("target_user"),
            "role": additional.get("role_name"),
        }
        if "previous_role_name" in additional:
            details["previous_role"] = additional["previous_role_name"]
    elif event.tag == EventTag.RELEASE_YANK:
        details = {"reason": additional.get("reason", "")}
    return {
        "event": kind,
        "project": event.project_name,
        "version": additional.get("version"),
        "filename": additional.get("filename"),
        "time": event.time.isoformat(),
        "actor": additional.get("submitted_by") or None,
        "details": details,
    }


def _create_delivery(
    *, subscription: Subscription, kind: str, payload: dict, redelivery_of: Delivery | None = None
) -> Delivery:
    delivery_id = uuid.uuid4()
    delivery = Delivery.objects.create(
        id=delivery_id,
        subscription=subscription,
        event=kind,
        payload={**payload, "delivery": str(delivery_id)},
        redelivery_of=redelivery_of,
    )
    enqueue(deliver, str(delivery_id))
    return delivery


def redeliver(delivery: Delivery) -> Delivery:
    """Send a delivery's event again as a new delivery (a new id, the current secret)."""
    payload = {k: v for k, v in delivery.payload.items() if k != "delivery"}
    return _create_delivery(
        subscription=delivery.subscription,
        kind=delivery.event,
        payload=payload,
        redelivery_of=delivery,
    )
