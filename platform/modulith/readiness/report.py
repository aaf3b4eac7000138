"""The split-readiness report: per module, what stands between it and a database of its own."""

from collections.abc import Iterable, Sequence

from modulith.modules import Module, Topology
from modulith.readiness.queries import CrossingQuery, query_ties
from modulith.readiness.relations import relation_ties, user_model_ties
from modulith.readiness.signals import signal_ties
from modulith.readiness.ties import Tie


def module_ties(
    topology: Topology,
    modules: Iterable[Module] | None = None,
    queries: Sequence[CrossingQuery] = (),
) -> dict[str, list[Tie]]:
    """Each module's ties (those named, else every module of the project), sorted."""
    names = [m.name for m in (topology.modules if modules is None else modules)]
    found = [
        *user_model_ties(topology),
        *relation_ties(topology),
        *signal_ties(topology),
        *query_ties(topology, list(queries)),
    ]
    return {name: sorted({tie for tie in found if tie.module == name}) for name in names}


def readiness_lines(topology: Topology, ties: dict[str, list[Tie]]) -> list[str]:
    """The report as text: a heading per module, a line per tie with what would replace it."""
    lines = []
    for name, found in ties.items():
        module = topology.module(name)
        place = (
            f"lives in the shared database {module.database!r}"
            if module.shares_database
            else f"has its own database {module.database!r}"
        )
        if not found:
            lines.append(f"{name} ({place}): ready, nothing ties it to another module's tables")
            continue
        lines.append(f"{name} ({place}): {len(found)} tie(s)")
        for tie in found:
            lines += [f"  - {tie.kind}: {tie.what}", f"      replace with: {tie.replacement}"]
    return lines


def shared_database_refusal(topology: Topology, name: str) -> str | None:
    """Why a module cannot be extracted into a service of its own yet, in one line: it lives
    in a shared database (naming what still ties it there), or None."""
    module = topology.module(name)
    if not module.shares_database:
        return None
    ties = module_ties(topology, [module])[name]
    tied = "; ".join(f"{tie.kind} {tie.what}" for tie in ties[:3])
    more = f" and {len(ties) - 3} more" if len(ties) > 3 else ""
    reason = f", tied to it by {tied}{more}" if ties else ""
    return (
        f"{name} lives in the shared database {module.database!r}{reason}: untie it "
        f"(manage.py readiness {name}), move its data to its own database (manage.py "
        f"movedata {name}), then extract it"
    )
