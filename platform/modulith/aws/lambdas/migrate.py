"""The migrate function: migrates the running modules' databases, as `manage.py migrate_modules`
does, when a release invokes it (synchronously, before the other functions move to the new
image). A function serves no command; this one is the release's one-off task on Lambda."""

import logging
from io import StringIO
from typing import Any

from modulith.aws.lambdas.start import LambdaContext, cold_start, invocation

cold_start()  # Django first: the command's imports load models

from django.core.management import call_command  # noqa: E402

log = logging.getLogger(__name__)


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Answers what the migration printed; a failure is the invocation's error (the release
    stops there, with the functions still on the previous image)."""
    output = StringIO()
    with invocation(context):
        call_command("migrate_modules", stdout=output, stderr=output, verbosity=1)
    log.info("migrated the databases of the modules running here")
    return {"migrated": True, "output": output.getvalue()[-4000:]}
