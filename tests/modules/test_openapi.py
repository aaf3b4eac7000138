"""The shop's public API, described: one OpenAPI schema for every module, in camelCase."""

from django.test import Client


def test_the_openapi_schema_describes_every_module_in_camel_case(client: Client) -> None:
    schema = client.get("/api/openapi.json").json()

    assert {"/api/orders", "/api/inventory/products", "/api/payments"} <= set(schema["paths"])
    order_in = schema["components"]["schemas"]["OrderIn"]["properties"]
    assert {"customerId", "items", "paymentToken"} == set(order_in)
    assert client.get("/api/docs").status_code == 200
