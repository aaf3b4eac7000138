"""The admin: each module's models on the module's own database, the framework's tables one
module database at a time, dead letters replayed from the list, the module map for staff."""

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F
from django.test import Client
from django.utils import timezone

from modules.inventory.models import Product
from modules.orders.models import Order, OrderStatus
from modulith import cancel_scheduled, publish
from modulith.database.store.models import Delivery, DeliveryStatus
from tests.conftest import sweep
from tests.events import payment_failed
from tests.modulith.test_delivery import capture_payment_for, pending_order
from tests.shop import place, stock

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

ROOT = Path(__file__).resolve().parents[2]
STATIC_SRC = ROOT / "platform" / "modulith" / "static-src"
VENDORED_MERMAID = ROOT / "platform" / "modulith" / "static" / "modulith" / "mermaid.min.js"
DEAD_LETTERS = "/admin/modulith/deadletter/"
MODULE_MAP = "/admin/modulith/module-map/"


@pytest.fixture
def staff_user(django_user_model: Any) -> User:
    user: User = django_user_model.objects.create_superuser(
        "admin", "admin@example.com", "a-password"
    )
    return user


@pytest.fixture
def admin_client(staff_user: User) -> Client:
    browser = Client()
    browser.force_login(staff_user)
    return browser


def dead_payment_captured() -> tuple[UUID, Delivery]:
    """PaymentCaptured for an order orders does not hold: every attempt fails, then it is dead."""
    order_id = uuid4()
    capture_payment_for(order_id)
    for _ in range(10):
        sweep()
    letter = Delivery.objects.using("payments").get(
        route="orders", event__event_name="PaymentCaptured"
    )
    assert letter.status == DeliveryStatus.DEAD
    return order_id, letter


def page(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    return str(response.content.decode())


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_the_index_lists_every_modules_models_the_event_bus_and_the_module_map(
    admin_client: Client,
) -> None:
    index = page(admin_client.get("/admin/"))

    for url in (
        "/admin/orders/order/",
        "/admin/inventory/product/",
        "/admin/inventory/reservation/",
        "/admin/payments/payment/",
        "/admin/modulith/outboxevent/",
        "/admin/modulith/delivery/",
        "/admin/modulith/deadletter/",
        "/admin/modulith/inboxrecord/",
        "/admin/modulith/handlingfailure/",
        MODULE_MAP,
    ):
        assert f'href="{url}"' in index, url
    assert "Event bus" in index


def test_each_modules_models_are_read_from_the_modules_own_database(
    admin_client: Client, client: Client
) -> None:
    stock(client, "KB-1", 5)
    order_id = place(client, ("KB-1", 2), token="tok_visa").json()["orderId"]

    assert order_id in page(admin_client.get("/admin/orders/order/"))
    assert "KB-1" in page(admin_client.get("/admin/inventory/product/"))
    assert order_id in page(admin_client.get("/admin/inventory/reservation/"))
    assert order_id in page(admin_client.get("/admin/payments/payment/"))
    detail = page(admin_client.get(f"/admin/orders/order/{order_id}/change/"))
    assert "KB-1" in detail  # its lines, inline
    assert "CONFIRMED" in detail
    assert "tok_visa" not in detail  # the customer's payment token is never shown


def test_orders_and_payments_are_read_only_and_products_editable_without_losing_reservations(
    admin_client: Client, client: Client
) -> None:
    stock(client, "KB-1", 5)
    order_id = place(client, ("KB-1", 1)).json()["orderId"]

    refused = admin_client.post(f"/admin/orders/order/{order_id}/change/", {"status": "CANCELLED"})
    assert refused.status_code == 403
    assert admin_client.get("/admin/orders/order/add/").status_code == 403
    assert admin_client.get("/admin/payments/payment/add/").status_code == 403

    form = page(admin_client.get("/admin/inventory/product/KB-1/change/"))
    assert 'name="unit_price"' in form
    assert 'name="on_hand"' not in form  # stock moves through the API and the saga
    # Stock is reserved while the form is open: saving the form must not undo it.
    Product.objects.filter(sku="KB-1").update(reserved=F("reserved") + 2)
    saved = admin_client.post(
        "/admin/inventory/product/KB-1/change/", {"name": "Keyboard", "unit_price": "12.50"}
    )

    assert saved.status_code == 302, saved.content
    product = Product.objects.get(sku="KB-1")
    assert (product.name, str(product.unit_price)) == ("Keyboard", "12.50")
    assert (product.on_hand, product.reserved) == (4, 2)
    assert admin_client.post("/admin/inventory/product/KB-1/delete/").status_code == 403


def test_a_product_is_added_in_the_inventory_database(admin_client: Client) -> None:
    added = admin_client.post(
        "/admin/inventory/product/add/",
        {"sku": "MS-1", "name": "Mouse", "unit_price": "19.90", "currency": "EUR", "on_hand": 3},
    )

    assert added.status_code == 302, added.content
    assert Product.objects.using("inventory").get(sku="MS-1").on_hand == 3


def test_the_dead_letters_of_one_module_database_at_a_time(admin_client: Client) -> None:
    _, letter = dead_payment_captured()

    payments = page(admin_client.get(DEAD_LETTERS, {"module": "payments"}))
    orders = page(admin_client.get(DEAD_LETTERS, {"module": "orders"}))
    default = page(admin_client.get(DEAD_LETTERS))

    assert "Dead letters of the payments module" in payments
    assert "PaymentCaptured" in payments
    assert "LookupError" in payments
    assert f'name="_selected_action" value="{letter.pk}"' in payments
    assert "Replay the selected dead letters" in payments
    assert "Dead letters of the orders module" in orders
    assert "PaymentCaptured" not in orders
    assert "Dead letters of the orders module" in default  # the first module running here


def test_a_dead_letter_shows_its_event_on_the_wire_and_a_replay_button(
    admin_client: Client,
) -> None:
    order_id, letter = dead_payment_captured()

    detail = page(
        admin_client.get(
            f"{DEAD_LETTERS}{letter.pk}/change/", {"_changelist_filters": "module=payments"}
        )
    )

    assert "Dead letter of the payments module" in detail
    assert "&quot;detail-type&quot;: &quot;PaymentCaptured&quot;" in detail
    assert f"&quot;orderId&quot;: &quot;{order_id}&quot;" in detail
    assert "LookupError" in detail
    assert 'action="/admin/modulith/deadletter/?module=payments"' in detail
    assert "Replay this dead letter" in detail
    # Read-only: no save button, and a post is refused.
    assert 'name="_save"' not in detail
    refused = admin_client.post(
        f"{DEAD_LETTERS}{letter.pk}/change/?_changelist_filters=module%3Dpayments", {}
    )
    assert refused.status_code == 403


def test_the_replay_action_delivers_a_dead_letter_again(admin_client: Client) -> None:
    order_id, letter = dead_payment_captured()
    pending_order(order_id)  # what the event was waiting for

    replayed = admin_client.post(
        f"{DEAD_LETTERS}?module=payments",
        {"action": "replay", "_selected_action": [letter.pk], "index": 0},
        follow=True,
    )

    assert messages_of(replayed) == [
        "payments: replayed 1 deliveries: delivered 1, retried 0, dead 0."
    ]
    assert "PaymentCaptured" not in page(replayed)  # no longer dead
    letter.refresh_from_db(using="payments")
    assert letter.status == DeliveryStatus.DELIVERED
    assert Order.objects.get(id=order_id).status == OrderStatus.CONFIRMED


def test_the_replay_button_of_a_dead_letter_replays_that_letter(admin_client: Client) -> None:
    order_id, letter = dead_payment_captured()
    pending_order(order_id)
    detail = page(admin_client.get(f"{DEAD_LETTERS}{letter.pk}/change/?module=payments"))
    form = re.search(
        r'<form method="post" action="([^"]+)" id="replay-form">(.*?)</form>', detail, re.S
    )
    assert form is not None
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form[2]))

    replayed = admin_client.post(form[1].replace("&amp;", "&"), fields, follow=True)

    assert messages_of(replayed) == [
        "payments: replayed 1 deliveries: delivered 1, retried 0, dead 0."
    ]
    letter.refresh_from_db(using="payments")
    assert letter.status == DeliveryStatus.DELIVERED


def test_a_replay_that_fails_again_says_so(admin_client: Client) -> None:
    _, letter = dead_payment_captured()  # the order still does not exist

    replayed = admin_client.post(
        f"{DEAD_LETTERS}?module=payments",
        {"action": "replay", "_selected_action": [letter.pk], "index": 0},
        follow=True,
    )

    [message] = messages_of(replayed)
    assert message.startswith(
        "payments: replayed 1 deliveries: delivered 0, retried 1, dead 0. Last error: LookupError"
    )
    letter.refresh_from_db(using="payments")
    assert (letter.status, letter.attempts) == (DeliveryStatus.PENDING, 1)


def test_outbox_deliveries_and_inbox_of_a_saga_are_listed_per_module(
    admin_client: Client, client: Client
) -> None:
    stock(client, "KB-1", 5)
    order_id = place(client, ("KB-1", 1)).json()["orderId"]

    outbox = page(admin_client.get("/admin/modulith/outboxevent/", {"module": "orders"}))
    delivered = page(
        admin_client.get("/admin/modulith/delivery/", {"module": "orders", "status": "DELIVERED"})
    )
    inbox = page(admin_client.get("/admin/modulith/inboxrecord/", {"module": "inventory"}))
    searched = page(
        admin_client.get("/admin/modulith/outboxevent/", {"module": "orders", "q": "Confirmed"})
    )

    assert "Outbox events of the orders module" in outbox
    assert "OrderPlaced" in outbox
    assert "OrderConfirmed" in outbox
    assert "OrderPlaced" in delivered
    assert "OrderPlaced" in inbox
    assert "OrderConfirmed" in searched
    assert "OrderPlaced" not in re.sub(r"<select.*?</select>|<ul.*?</ul>", "", searched, flags=re.S)
    event = Delivery.objects.using("orders").filter(event__event_name="OrderPlaced").get().event
    detail = page(
        admin_client.get(
            f"/admin/modulith/outboxevent/{event.pk}/change/",
            {"_changelist_filters": "module=orders"},
        )
    )
    assert order_id in detail  # the wire form
    assert "DELIVERED" in detail  # its deliveries, inline


def test_scheduled_events_are_listed_with_their_time_and_key_waiting_overdue_or_cancelled(
    admin_client: Client,
) -> None:
    a_year = timedelta(days=365)
    with transaction.atomic(using="payments"):
        waiting = publish(payment_failed(uuid4()), delay=a_year, schedule_key="renewal:1")
        cancelled = publish(payment_failed(uuid4()), delay=a_year, schedule_key="renewal:2")
        cancel_scheduled(key="renewal:2")
        # Its time has passed, and no relay has swept since.
        late = publish(payment_failed(uuid4()), deliver_at=timezone.now() - timedelta(minutes=1))
    capture_payment_for(uuid4())  # an event delivered at once (and retried: no such order)
    events = "/admin/modulith/outboxevent/"

    scheduled = page(admin_client.get(events, {"module": "payments", "scheduled": "waiting"}))
    gone = page(admin_client.get(events, {"module": "payments", "scheduled": "cancelled"}))
    overdue = page(admin_client.get(events, {"module": "payments", "scheduled": "due"}))
    cancelled_deliveries = page(
        admin_client.get("/admin/modulith/delivery/", {"module": "payments", "status": "CANCELLED"})
    )

    due = timezone.localtime(timezone.now() + a_year)
    [stored] = {d.next_attempt_at for d in Delivery.objects.using("payments").filter(event=waiting)}
    assert abs(stored - (timezone.now() + a_year)) < timedelta(minutes=1)
    assert str(waiting) in scheduled
    assert "renewal:1" in scheduled
    assert str(due.year) in scheduled  # when it is due, a year from now
    assert str(cancelled) not in scheduled
    assert "PaymentCaptured" not in re.sub(
        r"<select.*?</select>|<ul.*?</ul>", "", scheduled, flags=re.S
    )
    assert str(late) not in scheduled
    assert str(cancelled) in gone
    assert str(waiting) not in gone
    assert str(late) in overdue
    assert str(waiting) not in overdue
    assert cancelled_deliveries.count(">PaymentFailed<") == 2  # to orders and to inventory


def test_the_framework_tables_are_read_only(admin_client: Client) -> None:
    assert admin_client.get("/admin/modulith/outboxevent/add/").status_code == 403
    assert admin_client.get("/admin/modulith/deadletter/add/").status_code == 403


def test_a_module_that_does_not_run_here_is_not_found(admin_client: Client) -> None:
    assert admin_client.get(DEAD_LETTERS, {"module": "shipping"}).status_code == 404


def test_the_module_map_is_for_staff_only(admin_client: Client, django_user_model: Any) -> None:
    customer = Client()
    customer.force_login(django_user_model.objects.create_user("customer", password="pw"))

    for outsider in (Client(), customer):
        response = outsider.get(MODULE_MAP)
        assert response.status_code == 302
        assert response["Location"].startswith(f"/admin/login/?next={MODULE_MAP}")
    assert page(admin_client.get(MODULE_MAP))


def test_the_module_map_draws_the_mermaid_source_with_the_vendored_library(
    admin_client: Client,
) -> None:
    map_page = page(admin_client.get(MODULE_MAP))

    assert "flowchart LR" in map_page
    assert "orders --&gt;|OrderPlaced| inventory" in map_page
    assert "payments -.-&gt;|OrderQueries| orders" in map_page
    assert "Modules: inventory, orders, payments" in map_page  # the text form
    scripts = re.findall(r'<script[^>]* src="([^"]+)"', map_page)
    assert "/static/modulith/mermaid.min.js" in scripts
    assert not [src for src in scripts if "//" in src]  # every script from this site: no CDN


def test_the_vendored_mermaid_is_the_version_the_lockfile_pins() -> None:
    pinned = json.loads((STATIC_SRC / "package.json").read_text())["dependencies"]["mermaid"]
    locked = json.loads((STATIC_SRC / "package-lock.json").read_text())["packages"][
        "node_modules/mermaid"
    ]["version"]
    vendored = set(re.findall(rb'version:"(\d+\.\d+\.\d+)"', VENDORED_MERMAID.read_bytes()))

    assert pinned == locked
    assert locked.encode() in vendored, f"run `make vendor-js`: the file has {vendored}"
