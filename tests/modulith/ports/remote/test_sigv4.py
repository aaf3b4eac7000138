"""MODULITH_INTERNAL_SIGV4: internal calls carry an AWS Signature Version 4 as well as their HMAC
signature, for providers behind API Gateway routes with AWS_IAM authorisation. The signature
is checked here as AWS documents it, by code of our own, over the request as it arrived."""

import hashlib
import hmac
from typing import Any
from urllib.parse import quote

import pytest

from contracts.inventory import InventoryQueries
from modulith.modules.errors import ConfigurationError
from modulith.ports.remote.signing import SIGNATURE
from modulith.runtime import runtime
from tests.modulith.ports.remote.conftest import FakeProvider, orders_without_inventory

ACCESS_KEY = "AKIDMODULITHTEST"
SECRET_KEY = "a-test-secret-access-key"
REGION = "us-east-1"


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


def sigv4_signature(method: str, path: str, headers: dict[str, str], body: bytes) -> str:
    """The signature AWS computes for the request, from the scope and the list of signed
    headers its Authorization header names (docs: "Create a signed AWS API request")."""
    authorization = headers["authorization"]
    algorithm, _, fields = authorization.partition(" ")
    assert algorithm == "AWS4-HMAC-SHA256"
    parts = dict(part.strip().split("=", 1) for part in fields.split(","))
    scope = parts["Credential"].split("/", 1)[1]
    date, region, service, terminal = scope.split("/")
    signed = parts["SignedHeaders"].split(";")
    canonical_request = "\n".join(
        [
            method,
            quote(path, safe="/-_.~"),
            "",  # no query
            "".join(f"{name}:{' '.join(headers[name].split())}\n" for name in signed),
            ";".join(signed),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    to_sign = "\n".join(
        [
            algorithm,
            headers["x-amz-date"],
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key = f"AWS4{SECRET_KEY}".encode()
    for part in (date, region, service, terminal):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


@pytest.mark.usefixtures("credentials")
def test_a_call_carries_a_valid_sigv4_signature_over_what_arrived_and_its_hmac(
    settings: Any, fake_provider: FakeProvider
) -> None:
    orders_without_inventory(settings, fake_provider.url)
    settings.MODULITH_INTERNAL_SIGV4 = True

    runtime().ports.resolve(InventoryQueries).prices(["KB-1"])

    received, body, path = fake_provider.last
    headers = {name.lower(): value for name, value in received.items()}
    fields = dict(
        part.strip().split("=", 1) for part in headers["authorization"].split(" ", 1)[1].split(",")
    )
    assert fields["Credential"].startswith(f"{ACCESS_KEY}/")
    assert fields["Credential"].endswith(f"/{REGION}/execute-api/aws4_request")
    # The HMAC signature's headers are under SigV4 too: API Gateway and the provider agree.
    assert {"host", "x-amz-date", "x-modulith-signature", "x-modulith-caller"} <= set(
        fields["SignedHeaders"].split(";")
    )
    assert fields["Signature"] == sigv4_signature("POST", path, headers, body)
    assert SIGNATURE.lower() in headers


@pytest.mark.usefixtures("credentials")
def test_without_the_setting_a_call_carries_no_sigv4_signature(
    settings: Any, fake_provider: FakeProvider
) -> None:
    orders_without_inventory(settings, fake_provider.url)

    runtime().ports.resolve(InventoryQueries).prices(["KB-1"])

    assert "authorization" not in {name.lower() for name in fake_provider.last[0]}


def test_sigv4_without_credentials_stops_the_start_in_one_line(
    settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    orders_without_inventory(settings, "http://127.0.0.1:9")

    with pytest.raises(ConfigurationError, match="needs AWS credentials to sign with"):
        settings.MODULITH_INTERNAL_SIGV4 = True
