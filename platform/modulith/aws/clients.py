"""boto3 clients, configured only the standard way.

Credentials come from the default chain, the region from AWS_DEFAULT_REGION, and the endpoint
from AWS_ENDPOINT_URL when set (a local emulator needs no code path of its own). What we set
are timeouts and retries: a slow or throttling AWS must never hang a request or a relay.
"""

from typing import Any

import boto3
from botocore.config import Config


def client(service: str, *, read_timeout: float = 10.0) -> Any:
    config = Config(
        connect_timeout=3,
        read_timeout=read_timeout,
        retries={"mode": "standard", "max_attempts": 3},
    )
    # A session per client: clients are thread-safe, sessions are not.
    return boto3.session.Session().client(service, config=config)  # type: ignore[call-overload]
