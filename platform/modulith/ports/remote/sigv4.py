"""AWS Signature Version 4 on internal calls (MODULITH_INTERNAL_SIGV4), for providers behind
API Gateway routes with AWS_IAM authorisation: API Gateway refuses, before any function runs,
a caller whose role may not `execute-api:Invoke` the route. The HMAC signature stays on the
call, and the provider still verifies it: the network admits only the roles granted, the
provider only the holders of a key, and it checks which module calls.

botocore is the [aws] extra: this module is imported only once bootstrap has found it."""

from collections.abc import Generator
from typing import Any

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.session import get_session

from modulith.modules.errors import ConfigurationError

SERVICE = "execute-api"
# What SigV4 covers besides the host, the date and the body: the HMAC signature's headers
# too, so that API Gateway and the provider see the same call.
SIGNED_HEADERS = ("content-type", "x-modulith-")
# What the signature adds to the request.
ADDED_HEADERS = ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")


class SigV4(httpx.Auth):
    """Signs each request with the process's AWS credentials (the standard chain: a Lambda
    function's or a task's role), refreshed as they expire."""

    requires_request_body = True

    def __init__(self, credentials: Any, region: str) -> None:
        self.credentials = credentials
        self.region = region

    @classmethod
    def from_environment(cls) -> "SigV4":
        session = get_session()
        region = session.get_config_variable("region")
        if not region:
            raise ConfigurationError(
                "MODULITH_INTERNAL_SIGV4 needs a region to sign for: set AWS_DEFAULT_REGION"
            )
        credentials = session.get_credentials()
        if credentials is None:
            raise ConfigurationError(
                "MODULITH_INTERNAL_SIGV4 needs AWS credentials to sign with: give the process "
                "a role (or the standard AWS_* variables)"
            )
        return cls(credentials, region)

    def __repr__(self) -> str:
        return f"SigV4(region={self.region!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower().startswith(SIGNED_HEADERS)
        }
        signed = AWSRequest(
            method=request.method, url=str(request.url), data=request.content, headers=headers
        )
        SigV4Auth(self.credentials.get_frozen_credentials(), SERVICE, self.region).add_auth(signed)
        for name in ADDED_HEADERS:
            if name in signed.headers:
                request.headers[name] = signed.headers[name]
        yield request
