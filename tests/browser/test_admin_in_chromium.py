"""An operator in a real browser: logs into the admin, finds a dead letter in the payments
database, reads it, replays it, and opens the module map, which Mermaid draws in the page."""

from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import Select, WebDriverWait

from modules.orders.models import Order, OrderStatus
from modulith.database.store.models import DeliveryStatus
from tests.browser.conftest import Screenshots
from tests.modulith.test_admin import dead_payment_captured
from tests.modulith.test_delivery import pending_order

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, databases="__all__")]

PASSWORD = "a-long-admin-password"
WAIT_SECONDS = 20


def wait(driver: WebDriver) -> WebDriverWait[WebDriver]:
    return WebDriverWait(driver, WAIT_SECONDS)


def test_an_admin_replays_a_dead_letter_and_reads_the_module_map(
    live_server: Any,
    browser: WebDriver,
    screenshots: Screenshots,
    django_user_model: Any,
) -> None:
    django_user_model.objects.create_superuser("admin", "admin@example.com", PASSWORD)
    order_id, letter = dead_payment_captured()
    pending_order(order_id)  # what the event was waiting for: a replay can now succeed

    # Log in through the admin's login form.
    browser.get(f"{live_server.url}/admin/")
    wait(browser).until(seen.visibility_of_element_located((By.ID, "id_username")))
    browser.find_element(By.ID, "id_username").send_keys("admin")
    browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
    screenshots.take("login")
    browser.find_element(By.CSS_SELECTOR, "#login-form [type=submit]").click()
    wait(browser).until(seen.presence_of_element_located((By.ID, "modulith-module-map")))
    screenshots.take("index")

    # The dead letters, in the payments database.
    browser.find_element(By.CSS_SELECTOR, 'a[href="/admin/modulith/deadletter/"]').click()
    wait(browser).until(seen.title_contains("Dead letters of the orders module"))
    browser.find_element(By.LINK_TEXT, "payments").click()  # the module database filter
    wait(browser).until(seen.title_contains("Dead letters of the payments module"))
    row = browser.find_element(By.CSS_SELECTOR, "#result_list tbody tr")
    assert "PaymentCaptured" in row.text
    assert "LookupError" in row.text
    screenshots.take("dead-letters")

    # One dead letter: its event as it went on the wire.
    row.find_element(By.LINK_TEXT, str(letter.pk)).click()
    wait(browser).until(seen.title_contains("Dead letter of the payments module"))
    wire = browser.find_element(By.CSS_SELECTOR, "pre.modulith-json").text
    assert '"detail-type": "PaymentCaptured"' in wire
    assert f'"orderId": "{order_id}"' in wire
    screenshots.take("dead-letter")

    # Back to the list (still the payments database), select it, run the replay action.
    browser.find_element(By.CSS_SELECTOR, ".breadcrumbs a[href*='/deadletter/']").click()
    wait(browser).until(seen.title_contains("Dead letters of the payments module"))
    browser.find_element(
        By.CSS_SELECTOR, f'input[name="_selected_action"][value="{letter.pk}"]'
    ).click()
    Select(browser.find_element(By.NAME, "action")).select_by_visible_text(
        "Replay the selected dead letters"
    )
    browser.find_element(By.CSS_SELECTOR, "#changelist-form .actions button").click()
    success = wait(browser).until(
        seen.visibility_of_element_located((By.CSS_SELECTOR, ".messagelist .success"))
    )
    assert success.text == "Payments: replayed 1 deliveries: delivered 1, retried 0, dead 0."
    screenshots.take("replayed")
    letter.refresh_from_db(using="payments")
    assert letter.status == DeliveryStatus.DELIVERED
    assert Order.objects.get(id=order_id).status == OrderStatus.CONFIRMED

    # The module map, from the index: Mermaid (served by this site) draws it as SVG.
    browser.find_element(By.CSS_SELECTOR, "#site-name a").click()
    browser.find_element(By.LINK_TEXT, "Module map").click()
    wait(browser).until(
        lambda driver: driver.find_element(By.TAG_NAME, "body").get_attribute("data-module-map")
    )
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-module-map") == (
        "rendered"
    )
    diagram = browser.find_element(By.CSS_SELECTOR, "#module-map-diagram svg")
    labels = browser.execute_script("return arguments[0].textContent", diagram)
    for label in ("orders", "inventory", "payments", "OrderPlaced", "InventoryQueries"):
        assert label in labels, label
    assert diagram.size["width"] > 200
    assert diagram.size["height"] > 100
    screenshots.take("module-map")

    # Everything the pages loaded came from the application itself: no CDN.
    loaded = browser.execute_script(
        "return performance.getEntriesByType('resource').map(entry => entry.name)"
    )
    assert [url for url in loaded if not url.startswith(live_server.url)] == []
    assert f"{live_server.url}/static/modulith/mermaid.min.js" in loaded
