"""Events in the shapes AWS documents for a Lambda function, and the context the runtime
interface client passes with each: what the functions of `modulith.aws.lambdas` are called with.

- API Gateway HTTP API, payload format 2.0:
  https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
- Application Load Balancer target: https://docs.aws.amazon.com/elasticloadbalancing/latest/application/lambda-functions.html
- SQS event source: https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html
"""

import json
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from awslambdaric.lambda_context import LambdaContext

API_HOST = "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"
ALB_HOST = "shop-alb-123578498.us-east-1.elb.amazonaws.com"
TARGET_GROUP = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:"
    "targetgroup/modulith-orders-web/6d0ecf831eec9f09"
)
REGION = "us-east-1"
ACCOUNT = "123456789012"


def context(remaining_seconds: float = 30) -> LambdaContext:
    """The runtime interface client's own context object, with this much time left."""
    deadline = int((time.time() + remaining_seconds) * 1000)
    return LambdaContext(str(uuid.uuid4()), None, None, deadline)


def http_api(
    method: str, url: str, *, body: Any = None, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """A request through an HTTP API's `$default` stage (payload format 2.0): header names in
    lower case, the query string raw and parsed."""
    parts = urlsplit(url)
    text = json.dumps(body) if body is not None else None
    all_headers = {
        "host": API_HOST,
        "user-agent": "curl/8.5.0",
        "x-forwarded-for": "198.51.100.7",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
        **({"content-type": "application/json"} if text is not None else {}),
        **{name.lower(): value for name, value in (headers or {}).items()},
    }
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"ANY {parts.path}",
        "rawPath": parts.path,
        "rawQueryString": parts.query,
        "headers": all_headers,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": API_HOST.split(".")[0],
            "domainName": API_HOST,
            "domainPrefix": API_HOST.split(".")[0],
            "http": {
                "method": method,
                "path": parts.path,
                "protocol": "HTTP/1.1",
                "sourceIp": "198.51.100.7",
                "userAgent": "curl/8.5.0",
            },
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": f"ANY {parts.path}",
            "stage": "$default",
            "time": "10/Mar/2025:00:03:21 +0000",
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": False,
    }
    if parts.query:
        event["queryStringParameters"] = dict(parse_qsl(parts.query))
    if text is not None:
        event["body"] = text
    return event


def alb(
    method: str, url: str, *, body: Any = None, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """A request an ALB listener forwards to a Lambda target group (multi-value headers off)."""
    parts = urlsplit(url)
    text = json.dumps(body) if body is not None else ""
    return {
        "requestContext": {"elb": {"targetGroupArn": TARGET_GROUP}},
        "httpMethod": method,
        "path": parts.path,
        "queryStringParameters": dict(parse_qsl(parts.query)),
        "headers": {
            "host": ALB_HOST,
            "user-agent": "curl/8.5.0",
            "x-amzn-trace-id": "Root=1-67891233-abcdef012345678912345678",
            "x-forwarded-for": "198.51.100.7",
            "x-forwarded-port": "80",
            "x-forwarded-proto": "http",
            **({"content-type": "application/json"} if body is not None else {}),
            **{name.lower(): value for name, value in (headers or {}).items()},
        },
        "body": text,
        "isBase64Encoded": False,
    }


def sqs_event(messages: list[dict[str, Any]], queue_name: str) -> dict[str, Any]:
    """The event an SQS event source mapping hands its function for these messages, as
    ReceiveMessage returned them (with `AttributeNames=["All"]` and every message attribute)."""
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_name}"
    return {"Records": [sqs_record(message, arn) for message in messages]}


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }
