"""The modules as the framework runs them, wherever their database is: newsletter on its own
in a scenario, and the admin's pages of the bus, one module's rows at a time."""

import pytest
from accounts.models import User
from accounts.services import user_register
from django.test import Client
from newsletter.models import Subscriber

from contracts.accounts import UserRegistered
from contracts.newsletter import Subscribed
from modulith.testing.scenario import Scenario, ScenarioFactory


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_newsletter_on_its_own_subscribes_a_registered_user_once(
    module_scenario: ScenarioFactory,
) -> None:
    newsletter: Scenario = module_scenario("newsletter")

    newsletter.deliver(UserRegistered(user_id=7, email="hal@example.com")).again()

    assert [s.email for s in Subscriber.objects.filter(account_id=7)] == ["hal@example.com"]
    [subscribed] = newsletter.published(Subscribed)
    assert (subscribed.account_id, subscribed.newsletter) == (7, "weekly")


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_the_admin_shows_each_module_its_own_events() -> None:
    user_register(username="ivy", email="ivy@example.com")
    admin = User.objects.create_superuser("root", "root@example.com", "secret")
    client = Client()
    client.force_login(admin)

    accounts = client.get("/admin/modulith/outboxevent/", {"module": "accounts"})
    newsletter = client.get("/admin/modulith/outboxevent/", {"module": "newsletter"})

    assert accounts.status_code == newsletter.status_code == 200
    assert b"UserRegistered" in accounts.content
    assert b"Subscribed" not in accounts.content
    assert b"Subscribed" in newsletter.content
    assert b"UserRegistered" not in newsletter.content
