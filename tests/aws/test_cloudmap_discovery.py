"""Discovery through AWS Cloud Map (DiscoverInstances by module name), over real HTTP."""

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from contracts.inventory import InventoryQueries, ProductPrice
from modulith.aws.clients import client
from modulith.modules import Topology
from modulith.ports.remote.discovery import CloudMapDiscovery, ServiceNotFound
from modulith.runtime import runtime
from modulith.testing import wait_until
from tests.aws.emulator import AwsContext
from tests.service import Service
from tests.shop import stock

SECRET = "cloudmap-test-secret"


@pytest.fixture
def namespace(aws: AwsContext) -> Iterator[tuple[str, Any, str]]:
    """An HTTP namespace named after the test, with an `inventory` service in it."""
    cloudmap = aws.client("servicediscovery")
    name = f"{aws.prefix}.internal"
    operation = cloudmap.create_http_namespace(Name=name)["OperationId"]
    namespace_id = cloudmap.get_operation(OperationId=operation)["Operation"]["Targets"][
        "NAMESPACE"
    ]
    service = cloudmap.create_service(Name="inventory", NamespaceId=namespace_id)["Service"]
    yield name, cloudmap, service["Id"]
    for instance in cloudmap.list_instances(ServiceId=service["Id"])["Instances"]:
        cloudmap.deregister_instance(ServiceId=service["Id"], InstanceId=instance["Id"])
    cloudmap.delete_service(Id=service["Id"])
    cloudmap.delete_namespace(Id=namespace_id)


def register(cloudmap: Any, service_id: str, instance: str, port: int) -> None:
    cloudmap.register_instance(
        ServiceId=service_id,
        InstanceId=instance,
        Attributes={"AWS_INSTANCE_IPV4": "127.0.0.1", "AWS_INSTANCE_PORT": str(port)},
    )


def answer(discovery: CloudMapDiscovery, module: str) -> str | ServiceNotFound:
    """Where the module is, as discovery answers now: a URL, or why there is none."""
    try:
        return discovery.url_for(module)
    except ServiceNotFound as error:
        return error


def test_a_module_is_found_by_name_in_the_namespace(namespace: tuple[str, Any, str]) -> None:
    name, cloudmap, service_id = namespace
    register(cloudmap, service_id, "task-1", 8101)

    assert (
        CloudMapDiscovery(client("servicediscovery"), name).url_for("inventory")
        == "http://127.0.0.1:8101"
    )


def test_answers_are_cached_for_a_short_while(namespace: tuple[str, Any, str]) -> None:
    name, cloudmap, service_id = namespace
    register(cloudmap, service_id, "task-1", 8101)
    discovery = CloudMapDiscovery(client("servicediscovery"), name, ttl=0.5)
    discovery.url_for("inventory")

    cloudmap.deregister_instance(ServiceId=service_id, InstanceId="task-1")

    assert discovery.url_for("inventory") == "http://127.0.0.1:8101"  # still cached
    wait_until(
        lambda: answer(discovery, "inventory"),
        lambda answered: isinstance(answered, ServiceNotFound),
        awaiting="the cached answer to expire (a TTL of 0.5 s)",
        timeout=3,
    )
    with pytest.raises(ServiceNotFound, match="no inventory instance"):
        discovery.url_for("inventory")


def test_calls_spread_over_the_registered_instances(namespace: tuple[str, Any, str]) -> None:
    name, cloudmap, service_id = namespace
    register(cloudmap, service_id, "task-1", 8101)
    register(cloudmap, service_id, "task-2", 8102)
    discovery = CloudMapDiscovery(client("servicediscovery"), name)

    urls = {discovery.url_for("inventory") for _ in range(4)}

    assert urls == {"http://127.0.0.1:8101", "http://127.0.0.1:8102"}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_remote_port_finds_its_provider_through_cloud_map(
    namespace: tuple[str, Any, str],
    settings: Any,
    tmp_path: Path,
    aws: AwsContext,
) -> None:
    name, cloudmap, service_id = namespace
    stock(Client(headers={"X-API-Key": "dev-api-key"}), "KB-1", 2, price="89.00")
    with Service(
        tmp_path,
        "inventory",
        MODULITH_MODULES="inventory",
        MODULITH_TRANSPORT="sqs",
        MODULITH_INTERNAL_SECRET=SECRET,
        env=aws.env,
    ) as inventory:
        register(cloudmap, service_id, "task-1", inventory.port)
        settings.MODULITH_INTERNAL_SECRET = SECRET
        settings.MODULITH_DISCOVERY = "cloudmap"
        settings.MODULITH_CLOUDMAP_NAMESPACE = name
        settings.MODULITH_TRANSPORT = "sqs"
        settings.MODULITH_TOPOLOGY = Topology.load(settings.MODULITH_MANIFESTS, ["orders"])
        # (payments' port is unused here: only orders runs)

        prices = runtime().ports.resolve(InventoryQueries).prices(["KB-1"])

    assert prices == [ProductPrice(sku="KB-1", unit_price=Decimal("89.00"), currency="EUR")]
