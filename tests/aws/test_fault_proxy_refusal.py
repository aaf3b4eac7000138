"""The FaultProxy's whole-endpoint outage: while it refuses, every connect is refused (also on
a connection that was open before); once it accepts again, the same endpoint answers."""

import socket
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import EndpointConnectionError

from tests.aws.emulator import AwsContext
from tests.aws.fault_proxy import FaultProxy

pytestmark = pytest.mark.slow


def test_a_refusing_proxy_refuses_every_call_until_it_accepts_again(
    aws: AwsContext, fault_proxy: FaultProxy
) -> None:
    sqs: Any = aws.client("sqs", retries={"total_max_attempts": 1, "mode": "standard"})
    url = sqs.create_queue(QueueName=f"{aws.prefix}-refusal")["QueueUrl"]
    endpoint = fault_proxy.endpoint

    fault_proxy.refuse_connections()
    with pytest.raises(EndpointConnectionError):
        sqs.send_message(QueueUrl=url, MessageBody="while refused")
    parts = urlsplit(endpoint)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((parts.hostname, parts.port), timeout=2).close()

    fault_proxy.accept_connections()
    assert fault_proxy.endpoint == endpoint
    sqs.send_message(QueueUrl=url, MessageBody="accepted again")
    received = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert [message["Body"] for message in received] == ["accepted again"]
