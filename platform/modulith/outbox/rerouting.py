"""Deliveries stored for a transport no longer in use, sent by the one in use.

A delivery's route is what the transport that stored it calls a destination: a subscribing
module (`inprocess`, `sqs`), the bus (`eventbridge`), the publisher's topic (`sns`). When
MODULITH_TRANSPORT changes, the outbox still holds what processes of the old transport
committed and did not send: its routes mean nothing to the new one (an in-process route is not
a bus; a bus is not a module). Left as they were, such deliveries would fail on every attempt,
or wait for a process of the old transport that will never run again.

So a delivery whose route the transport in use does not have for its event takes the routes
it has: either those reach every subscriber (a bus, a topic), or the old route did (a bus, a
topic, sent now to each subscriber's own route), so every route the event has now is one the
delivery may stand for. A subscriber that already had the event through a sibling delivery
gets it again, and its inbox absorbs it: at least once, never lost.
"""

import logging
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.db.models.functions import Now

from modulith.database.store.models import Delivery, DeliveryStatus

log = logging.getLogger("modulith.outbox.relay")


class Rerouting:
    def __init__(self, routes: Callable[[str], list[str]]) -> None:
        self.routes = routes  # the transport in use's routes of an event

    def stale(self, deliveries: list[Delivery]) -> list[Delivery]:
        """Those of the deliveries routed by another transport than the one in use."""
        routes: dict[str, list[str]] = {}
        stale = []
        for delivery in deliveries:
            name = delivery.event.event_name
            if name not in routes:
                routes[name] = self.routes(name)
            if delivery.route not in routes[name]:
                stale.append(delivery)
        return stale

    def reroute(self, alias: str, delivery: Delivery) -> Delivery | None:
        """Gives a claimed, stale delivery the routes of the transport in use: it takes the
        first the event has no delivery for, and each other such route gets a delivery of its
        own, due now (a sweep claims it). Returns the delivery, rerouted, when this relay still
        holds it and should send it now; None when the event's deliveries on the routes in use
        already stand for it (then it is deleted), or its claim was lost."""
        event_name = delivery.event.event_name
        routes = self.routes(event_name)
        mine = Delivery.objects.using(alias).filter(
            pk=delivery.pk, claimed_by=delivery.claimed_by, status=DeliveryStatus.PENDING
        )
        try:
            with transaction.atomic(using=alias):
                existing = set(
                    Delivery.objects.using(alias)
                    .filter(event_id=delivery.event_id, route__in=routes)
                    .values_list("route", flat=True)
                )
                missing = [route for route in routes if route not in existing]
                if not missing:
                    mine.delete()
                    log.info(
                        "%s %s to %s: no route of this transport left to send it on (%s)",
                        event_name,
                        delivery.event_id,
                        delivery.route,
                        ", ".join(routes) or "nobody subscribes",
                    )
                    return None
                first, *others = missing
                if not mine.update(route=first, updated_at=Now()):
                    return None  # another relay took it over when its claim lapsed
                for route in others:
                    Delivery.objects.using(alias).create(
                        event_id=delivery.event_id,
                        route=route,
                        next_attempt_at=Now(),
                        ordering_key=delivery.ordering_key,
                    )
        except IntegrityError:  # another relay rerouted a sibling to the same route just now
            log.info("%s %s: rerouted by another relay", event_name, delivery.event_id)
            return None
        log.info(
            "%s %s: rerouted from %s (a route of another transport) to %s",
            event_name,
            delivery.event_id,
            delivery.route,
            ", ".join(missing),
        )
        delivery.route = first
        return delivery
