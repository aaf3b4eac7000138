"""The modulith checks, registered with Django under the tag `modulith`
(`manage.py check --tag modulith` runs only them)."""

from django.core import checks

from modulith.modules.checks.api_keys import check_api_keys
from modulith.modules.checks.apps import check_apps
from modulith.modules.checks.databases import check_databases
from modulith.modules.checks.events import check_events
from modulith.modules.checks.manifests import check_manifests
from modulith.modules.checks.moves import check_moves
from modulith.modules.checks.nonces import check_nonce_store
from modulith.modules.checks.scope import TAG
from modulith.modules.checks.ties import check_readiness
from modulith.modules.checks.versions import check_versions


def register_checks() -> None:
    checks_in_order = (
        check_manifests,
        check_events,
        check_versions,
        check_apps,
        check_databases,
        check_readiness,
        check_moves,
    )
    for check in checks_in_order:
        checks.register(check, TAG)
    # Asks the database, and must not stop `migrate`, which runs the checks before it makes
    # the table: `check --deploy --database default`, and the start of a server.
    checks.register(check_nonce_store, TAG, checks.Tags.database, deploy=True)
    # Only where the public API is served: see modulith.modules.checks.api_keys.
    checks.register(check_api_keys, TAG, deploy=True)
