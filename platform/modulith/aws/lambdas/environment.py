"""A function's secrets, from Secrets Manager: Lambda has no `secrets` of its own as ECS has,
so each `<NAME>_SECRET_ARN` variable names a secret whose string becomes the variable
`<NAME>` (say, `ORDERS_DATABASE_URL_SECRET_ARN` gives `ORDERS_DATABASE_URL`), read once at the
cold start, before Django reads its settings. A variable set already is left as it is."""

from collections.abc import MutableMapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from modulith.aws.clients import client
from modulith.modules.errors import ConfigurationError

SUFFIX = "_SECRET_ARN"


def load_secrets(environ: MutableMapping[str, str], secretsmanager: Any = None) -> list[str]:
    """Sets each `<NAME>` from the secret its `<NAME>_SECRET_ARN` names; returns the names
    set. A secret that cannot be read is a ConfigurationError naming its variable."""
    wanted = {
        name.removesuffix(SUFFIX): arn.strip()
        for name, arn in environ.items()
        if name.endswith(SUFFIX) and arn.strip() and not environ.get(name.removesuffix(SUFFIX))
    }
    if not wanted:
        return []
    secretsmanager = secretsmanager or client("secretsmanager")
    for name, arn in sorted(wanted.items()):
        try:
            value = secretsmanager.get_secret_value(SecretId=arn)
        except (BotoCoreError, ClientError) as error:
            raise ConfigurationError(
                f"{name}{SUFFIX}={arn} cannot be read from Secrets Manager: {error}"
            ) from None
        if "SecretString" not in value:
            raise ConfigurationError(
                f"{name}{SUFFIX}={arn} is a binary secret: store {name} as a string"
            )
        environ[name] = value["SecretString"]
    return sorted(wanted)
