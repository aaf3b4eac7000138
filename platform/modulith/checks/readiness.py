"""modulith.E031, W030: what ties a running module to another's tables (the split-readiness
report, `manage.py readiness`). A relation whose two ends live in different databases cannot
work (Django refuses it, or reads the copy left behind): an error. The rest stands between a
module and a database of its own: a warning, one per module, until each is replaced."""

from collections.abc import Iterable, Sequence
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error, Warning

from modulith.checks.scope import current_topology, modules_to_check
from modulith.modules import Module
from modulith.readiness import module_ties
from modulith.readiness.relations import relations


def check_readiness(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    return readiness_messages(modules_to_check(app_configs))


def readiness_messages(modules: Iterable[Module]) -> list[CheckMessage]:
    chosen = list(modules)
    names = {module.name for module in chosen}
    messages: list[CheckMessage] = []
    split: dict[str, list[str]] = {}
    for relation in relations():
        if relation.across_databases:
            for unit in {relation.owner_unit, relation.target_unit} & names:
                split.setdefault(unit, []).append(relation.what)
    for name, found in sorted(split.items()):
        messages.append(
            Error(
                f"{name}'s relations cross databases, which Django cannot follow: "
                + "; ".join(found),
                hint=(
                    f"Keep {name} in the database of what it relates to (database='default' "
                    f"in its manifest) until each is replaced: manage.py readiness {name} says "
                    "with what."
                ),
                obj=name,
                id="modulith.E031",
            )
        )
    for name, ties in module_ties(current_topology(), chosen).items():
        if ties:
            messages.append(
                Warning(
                    f"{name} is tied to other modules' tables by {len(ties)} thing(s): "
                    + "; ".join(f"{tie.kind} {tie.what}" for tie in ties),
                    hint=(
                        f"Each stands between {name} and a database of its own: manage.py "
                        f"readiness {name} lists them with the event or query port that would "
                        "replace each."
                    ),
                    obj=name,
                    id="modulith.W030",
                )
            )
    return messages
