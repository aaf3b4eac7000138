"""Where a module's service answers: a static map, or AWS Cloud Map."""

import threading
import time
from typing import Any, Protocol

from modulith.modules.errors import ConfigurationError


class ServiceNotFound(Exception):
    """No address is known for the module's service right now."""


class Discovery(Protocol):
    def url_for(self, module: str) -> str: ...


class StaticDiscovery:
    """MODULITH_SERVICE_URLS="inventory=http://inventory:8000,payments=http://..."."""

    def __init__(self, urls: dict[str, str]) -> None:
        self.urls = urls

    @classmethod
    def parse(cls, text: str) -> "StaticDiscovery":
        urls = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            module, sep, url = item.partition("=")
            if not sep or not url.startswith(("http://", "https://")):
                raise ConfigurationError(
                    f"MODULITH_SERVICE_URLS entry {item!r} is not module=http(s)://host:port"
                )
            urls[module.strip()] = url.strip().rstrip("/")
        return cls(urls)

    def url_for(self, module: str) -> str:
        try:
            return self.urls[module]
        except KeyError:
            raise ServiceNotFound(f"MODULITH_SERVICE_URLS has no URL for {module}") from None


class CloudMapDiscovery:
    """DiscoverInstances by module name in a Cloud Map namespace, cached for `ttl` seconds."""

    def __init__(self, client: Any, namespace: str, ttl: float = 10.0) -> None:
        self.client = client
        self.namespace = namespace
        self.ttl = ttl
        self._cache: dict[str, tuple[float, list[str]]] = {}
        self._lock = threading.Lock()
        self._turn = 0

    def url_for(self, module: str) -> str:
        urls = self._urls(module)
        with self._lock:
            self._turn += 1
            return urls[self._turn % len(urls)]  # spread calls over healthy instances

    def _urls(self, module: str) -> list[str]:
        with self._lock:
            cached = self._cache.get(module)
            if cached and time.monotonic() - cached[0] < self.ttl:
                return cached[1]
        response = self.client.discover_instances(
            NamespaceName=self.namespace, ServiceName=module, HealthStatus="HEALTHY_OR_ELSE_ALL"
        )
        urls = [_url(instance["Attributes"]) for instance in response.get("Instances", [])]
        if not urls:
            raise ServiceNotFound(f"Cloud Map namespace {self.namespace} has no {module} instance")
        with self._lock:
            self._cache[module] = (time.monotonic(), urls)
        return urls


def _url(attributes: dict[str, str]) -> str:
    host = attributes.get("AWS_INSTANCE_IPV4") or attributes.get("AWS_INSTANCE_CNAME", "")
    port = attributes.get("AWS_INSTANCE_PORT", "80")
    scheme = attributes.get("scheme", "http")
    return f"{scheme}://{host}:{port}"
