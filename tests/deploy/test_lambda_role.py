"""The image's `lambda` role run as Lambda runs it: the entrypoint starts the runtime interface
client (awslambdaric), which takes each invocation from the Lambda Runtime API (here
`RuntimeApi`, the one part of Lambda the image talks to) and posts the function's answer."""

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy.lambda_runtime import RuntimeApi
from tests.deploy.test_entrypoint import API_KEY, ENTRYPOINT, ROOT, image_environment
from tests.lambda_events import http_api
from tests.processes import free_port


@dataclass
class Function:
    api: RuntimeApi
    process: subprocess.Popen[str]


def lambda_environment(tmp_path: Path, api: RuntimeApi) -> dict[str, str]:
    """A production-like environment, as Lambda gives it to a function of the image."""
    env = image_environment(tmp_path / "var", free_port())
    return env | {
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "AWS_LAMBDA_FUNCTION_NAME": "modulith-shop-web",
        "DJANGO_ALLOWED_HOSTS": ".execute-api.us-east-1.amazonaws.com",
    }


def start(role: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(ENTRYPOINT), *role],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def web_function(tmp_path: Path) -> Iterator[Function]:
    """`entrypoint.sh lambda web` on migrated databases holding the demo catalogue (what the
    image's `migrate` role and `load_catalogue` leave)."""
    with RuntimeApi() as api:
        env = lambda_environment(tmp_path, api)
        for command in (["migrate_modules"], ["load_catalogue"]):
            done = subprocess.run(
                [sys.executable, "manage.py", *command],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert done.returncode == 0, done.stderr
        process = start(["lambda", "web"], env)
        try:
            yield Function(api, process)
        finally:
            process.kill()
            process.wait(timeout=10)


@pytest.mark.slow
def test_the_web_function_answers_invocations_and_the_saga_ends_before_each_answer(
    web_function: Function,
) -> None:
    order = {"customerId": "c1", "items": [{"sku": "KB-001", "quantity": 1}]}

    placed = web_function.api.invoke(
        http_api("POST", "/api/orders", body=order, headers={"X-API-Key": API_KEY}), timeout=60
    )

    assert placed.kind == "response", placed
    assert placed.body["statusCode"] == 201, placed
    assert placed.body["headers"]["traceparent"].startswith("00-")
    order_id = json.loads(placed.body["body"])["orderId"]
    read = web_function.api.invoke(
        http_api("GET", f"/api/orders/{order_id}", headers={"X-API-Key": API_KEY})
    )
    assert read.body["statusCode"] == 200, read
    # Confirmed at once: deliveries ran inline before the first answer, no thread after it.
    assert '"status": "CONFIRMED"' in read.body["body"]
    assert web_function.api.init_errors == []


@pytest.mark.slow
def test_a_thread_executor_stops_the_functions_start_in_one_line(tmp_path: Path) -> None:
    with RuntimeApi() as api:
        env = lambda_environment(tmp_path, api) | {"MODULITH_ASYNC_HANDLERS": "thread"}
        process = start(["lambda", "web"], env)
        _, stderr = process.communicate(timeout=60)

    assert process.returncode == 1
    assert stderr.splitlines() == [
        "configuration error: MODULITH_ASYNC_HANDLERS=thread cannot run on Lambda, which "
        "freezes a function's threads between invocations: use inline (the default on Lambda) "
        "or celery"
    ]


@pytest.mark.parametrize(
    ("role", "line"),
    [
        (
            ["lambda"],
            "lambda runs one function: use lambda web, lambda consume, lambda relay or "
            "lambda migrate",
        ),
        (
            ["lambda", "worker"],
            "lambda runs one function: use lambda web, lambda consume, lambda relay or "
            "lambda migrate",
        ),
        (
            ["lambda", "consume"],
            "lambda consume runs inside AWS Lambda (which sets AWS_LAMBDA_RUNTIME_API); "
            "elsewhere run the web, consume, relay or migrate role",
        ),
    ],
)
def test_the_lambda_role_outside_lambda_or_without_a_function_is_one_line(
    tmp_path: Path, role: list[str], line: str
) -> None:
    env = image_environment(tmp_path / "var", free_port())

    process = start(role, env)
    _, stderr = process.communicate(timeout=30)

    assert process.returncode == 64
    assert stderr.splitlines() == [line]
