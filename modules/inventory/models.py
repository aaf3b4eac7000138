from django.db import models
from django.db.models import F, Q


class Product(models.Model):
    sku = models.CharField(primary_key=True, max_length=64)
    name = models.CharField(max_length=200)
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    on_hand = models.PositiveIntegerField(default=0)
    reserved = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["sku"]
        constraints = [
            # The last line of defence against overselling, whatever the code above it does.
            models.CheckConstraint(
                condition=Q(reserved__lte=F("on_hand")), name="product_reserved_within_on_hand"
            ),
        ]

    def __str__(self) -> str:
        return self.sku

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class ReservationStatus(models.TextChoices):
    RESERVED = "RESERVED"
    COMMITTED = "COMMITTED"
    RELEASED = "RELEASED"


class Reservation(models.Model):
    """Stock held for one line of one order (the order is another module's: its id only)."""

    order_id = models.UUIDField(db_index=True)
    sku = models.CharField(max_length=64)
    quantity = models.PositiveIntegerField()
    status = models.CharField(
        max_length=10, choices=ReservationStatus.choices, default=ReservationStatus.RESERVED
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["order_id", "sku"], name="reservation_order_sku_unique")
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku} for {self.order_id} ({self.status})"
