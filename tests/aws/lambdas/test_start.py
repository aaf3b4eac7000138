"""A function's cold start: on Lambda deliveries after commit default to inline and kept
connections are checked before use; a thread executor or relay is refused in one line; the
secrets named by `<NAME>_SECRET_ARN` become the variables Django's settings read."""

from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from modulith.aws.lambdas.environment import load_secrets
from modulith.modules.errors import ConfigurationError
from tests.aws.emulator import AwsContext
from tests.processes import database_url, run_python

ON_LAMBDA = {"AWS_LAMBDA_FUNCTION_NAME": "modulith-orders-relay", "MODULITH_ASYNC_HANDLERS": ""}


@pytest.mark.parametrize("function", ["web", "consume", "relay"])
def test_on_lambda_deliveries_default_to_inline_and_kept_connections_are_checked(
    function: str,
) -> None:
    started = run_python(  # a fresh process: the cold start from nothing
        f"import modulith.aws.lambdas.{function}\n"
        "from django.db import connections\n"
        "from modulith.conf import modulith_settings\n"
        "print(modulith_settings().async_handlers, modulith_settings().embedded_relay,"
        " connections['orders'].settings_dict['CONN_HEALTH_CHECKS'])",
        env=ON_LAMBDA,
    )

    assert started.returncode == 0, started.stderr
    assert started.stdout.split() == ["inline", "False", "True"]


@pytest.mark.parametrize(
    ("variable", "value", "line"),
    [
        (
            "MODULITH_ASYNC_HANDLERS",
            "thread",
            "configuration error: MODULITH_ASYNC_HANDLERS=thread cannot run on Lambda, which "
            "freezes a function's threads between invocations: use inline (the default on "
            "Lambda) or celery",
        ),
        (
            "MODULITH_EMBEDDED_RELAY",
            "1",
            "configuration error: MODULITH_EMBEDDED_RELAY=1 cannot run on Lambda, which freezes "
            "a function's threads between invocations: leave it unset there; the relay "
            "function's schedule sweeps",
        ),
    ],
)
def test_a_background_thread_on_lambda_stops_the_cold_start_in_one_line(
    variable: str, value: str, line: str
) -> None:
    started = run_python("import modulith.aws.lambdas.web", env=ON_LAMBDA | {variable: value})

    assert started.returncode == 1
    assert started.stderr.splitlines() == [line]


def test_outside_lambda_the_thread_executor_stays_the_default() -> None:
    started = run_python(
        "import django; django.setup()\n"
        "from modulith.conf import modulith_settings\n"
        "print(modulith_settings().async_handlers)",
        DJANGO_SETTINGS_MODULE="config.settings",
        AWS_LAMBDA_FUNCTION_NAME="",
        MODULITH_ASYNC_HANDLERS="",
    )

    assert started.stdout.strip() == "thread", started.stderr


def test_secrets_named_by_their_arns_become_the_variables_they_name(aws: AwsContext) -> None:
    secrets = aws.client("secretsmanager")
    url = secrets.create_secret(Name=f"{aws.prefix}-orders-db", SecretString="postgres://o@db/o")
    environ = {
        "ORDERS_DATABASE_URL_SECRET_ARN": url["ARN"],
        "DJANGO_SECRET_KEY": "set-already",
        "DJANGO_SECRET_KEY_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:x",
    }

    loaded = load_secrets(environ)

    assert loaded == ["ORDERS_DATABASE_URL"]
    assert environ["ORDERS_DATABASE_URL"] == "postgres://o@db/o"
    assert environ["DJANGO_SECRET_KEY"] == "set-already"  # never read: it is set


def test_a_secret_that_cannot_be_read_is_one_line_naming_its_variable(aws: AwsContext) -> None:
    missing = f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{aws.prefix}-gone-AbCdEf"

    with pytest.raises(ConfigurationError) as refused:
        load_secrets({"ORDERS_DATABASE_URL_SECRET_ARN": missing})

    message = str(refused.value)
    assert message.startswith(
        f"ORDERS_DATABASE_URL_SECRET_ARN={missing} cannot be read from Secrets Manager: "
    )
    assert "ResourceNotFoundException" in message
    assert "\n" not in message


@pytest.mark.django_db(databases="__all__")
def test_a_function_reads_its_database_url_from_its_secret_at_the_cold_start(
    aws: AwsContext, settings: Any
) -> None:
    secrets = aws.client("secretsmanager")
    secret = secrets.create_secret(
        Name=f"{aws.prefix}-orders-db", SecretString=database_url("orders")
    )

    started = run_python(
        "import modulith.aws.lambdas.relay\n"
        "from django.db import connections\n"
        "print(connections['orders'].settings_dict['NAME'])",
        env=aws.env | ON_LAMBDA,
        ORDERS_DATABASE_URL="",
        ORDERS_DATABASE_URL_SECRET_ARN=secret["ARN"],
    )

    assert started.returncode == 0, started.stderr
    name = connections["orders"].settings_dict["NAME"]
    test_database = str(Path(name).resolve()) if connections["orders"].vendor == "sqlite" else name
    assert started.stdout.strip() == test_database


def test_a_function_without_the_lambda_extra_is_refused_in_one_line() -> None:
    started = run_python(
        "import sys\nsys.modules['apig_wsgi'] = None\nimport modulith.aws.lambdas.web",
        env=ON_LAMBDA,
    )

    assert started.returncode == 1
    assert started.stderr.splitlines() == [
        "configuration error: a module on AWS Lambda needs apig-wsgi: "
        "pip install 'django-modulith[lambda]'"
    ], started.stderr
