from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from modules.inventory.catalogue import CURRENCY, DEMO_PRODUCTS
from modules.inventory.models import Product


class Command(BaseCommand):
    help = "Loads the demo catalogue; products that already exist are left as they are."

    def handle(self, *args: Any, **options: Any) -> None:
        created = 0
        with transaction.atomic(using="inventory"):
            for sku, name, price, quantity in DEMO_PRODUCTS:
                _, new = Product.objects.get_or_create(
                    sku=sku,
                    defaults={
                        "name": name,
                        "unit_price": price,
                        "currency": CURRENCY,
                        "on_hand": quantity,
                    },
                )
                created += new
        self.stdout.write(
            f"demo catalogue: {created} product(s) added, "
            f"{len(DEMO_PRODUCTS) - created} already there"
        )
