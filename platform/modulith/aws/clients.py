"""boto3 clients, configured only the standard way.

Credentials come from the default chain, the region from AWS_DEFAULT_REGION, and the endpoint
from AWS_ENDPOINT_URL when set (a local emulator needs no code path of its own). What we set
are timeouts and retries: a slow or throttling AWS must never hang a request or a relay.

boto3 is the [aws] extra. It is imported when the first client is made, not with this module,
so the in-process bus (whose AwsContext never makes a client) runs without it; the composition
root checks it is installed when the settings need AWS (`modulith.conf.extras`).
"""

import os
from typing import Any


def client(
    service: str, *, connect_timeout: float = 3.0, read_timeout: float = 10.0, attempts: int = 3
) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"mode": "standard", "total_max_attempts": attempts},
        # Some calls (Cloud Map's DiscoverInstances) prefix the host ("data-..."); a custom
        # endpoint (a VPC endpoint, a proxy, an emulator) is used exactly as given.
        inject_host_prefix=not _custom_endpoint(service),
    )
    # A session per client: clients are thread-safe, sessions are not.
    return boto3.session.Session().client(service, config=config)  # type: ignore[call-overload]


def default_region() -> str | None:
    """The region boto3 would use (environment, profile or instance metadata config)."""
    import boto3

    return boto3.session.Session().region_name


def _custom_endpoint(service: str) -> bool:
    service_variable = f"AWS_ENDPOINT_URL_{service.upper().replace('-', '_')}"
    return bool(os.environ.get("AWS_ENDPOINT_URL") or os.environ.get(service_variable))
