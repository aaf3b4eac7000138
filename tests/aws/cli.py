"""The real AWS CLI, as a producer outside the monolith runs it, against the emulator."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.aws.emulator import AwsContext

AWS_CLI = Path(sys.executable).with_name("aws")


def aws_cli(aws: AwsContext, service: str, command: str, *arguments: str) -> dict[str, Any]:
    """`aws <service> <command> <arguments>` against the emulator (the CLI v1 needs the
    endpoint given explicitly); its JSON answer."""
    result = subprocess.run(
        [str(AWS_CLI), service, command, "--endpoint-url", aws.endpoint, *arguments],
        env={**aws.env, "PATH": str(AWS_CLI.parent)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))
