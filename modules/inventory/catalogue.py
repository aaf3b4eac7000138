"""The demo catalogue `make run` loads."""

from decimal import Decimal

DEMO_PRODUCTS = [
    ("KB-001", "Mechanical keyboard", Decimal("89.00"), 25),
    ("MS-002", "Wireless mouse", Decimal("29.50"), 40),
    ("MN-003", "27-inch monitor", Decimal("249.00"), 10),
    ("HD-004", "Noise-cancelling headphones", Decimal("159.00"), 15),
    ("CB-005", "USB-C cable", Decimal("9.90"), 100),
    ("LT-006", "Limited edition desk lamp", Decimal("75.00"), 1),
]
CURRENCY = "EUR"
