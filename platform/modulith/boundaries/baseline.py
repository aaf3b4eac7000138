"""The units of a project (each module's package and each of the project's own apps) and the
imports between them today, found by import-linter's own graph (grimp), so that the baseline
holds exactly what import-linter will match."""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.apps import apps

from modulith.modules import Topology

# Each pass removes one import from each chain between two units; chains are finite, but a
# bound keeps a pathological graph from running on.
MAX_PASSES = 1000


@dataclass(frozen=True)
class Baseline:
    units: tuple[str, ...]  # the packages that must not depend on each other
    ignored: tuple[str, ...]  # "importer -> imported", today's imports across them

    @property
    def root_packages(self) -> tuple[str, ...]:
        return tuple(sorted({unit.partition(".")[0] for unit in self.units}))

    def by_pair(self) -> Counter[str]:
        """How many imports each unit makes of each other (`blog -> accounts`)."""
        found: Counter[str] = Counter()
        for line in self.ignored:
            importer, _, imported = line.partition(" -> ")
            found[f"{self._unit(importer)} -> {self._unit(imported)}"] += 1
        return found

    def _unit(self, module: str) -> str:
        matches = [u for u in self.units if module == u or module.startswith(u + ".")]
        return max(matches, key=len) if matches else module


def project_units(topology: Topology, root: Path) -> tuple[str, ...]:
    """The packages of the project's modules and of its own apps (those under `root`), not
    Django's, the framework's or a third party's."""
    root = root.resolve()
    modules = {module.name for module in topology.modules}
    units = [
        config.name
        for config in apps.get_app_configs()
        if config.label in modules or _under(Path(config.path), root)
    ]
    return tuple(sorted(set(units)))


def crossing_imports(units: Iterable[str]) -> Baseline:
    """The imports to leave out of the graph for the units to be independent: the first
    import of each chain of imports from one unit to another, until no chain is left."""
    import grimp  # the [boundaries] extra, checked by the command before it calls this

    chosen = tuple(sorted(units))
    roots = sorted({unit.partition(".")[0] for unit in chosen})
    graph = grimp.build_graph(*roots, include_external_packages=False)
    ignored: set[str] = set()
    for _ in range(MAX_PASSES):
        removed = False
        for importer in chosen:
            for imported in chosen:
                if importer == imported or _nested(importer, imported):
                    continue
                for chain in graph.find_shortest_chains(importer=importer, imported=imported):
                    graph.remove_import(importer=chain[0], imported=chain[1])
                    ignored.add(f"{chain[0]} -> {chain[1]}")
                    removed = True
        if not removed:
            break
    return Baseline(units=chosen, ignored=tuple(sorted(ignored)))


def _nested(a: str, b: str) -> bool:
    return a.startswith(b + ".") or b.startswith(a + ".")


def _under(path: Path, root: Path) -> bool:
    resolved = path.resolve()
    return resolved.is_relative_to(root) and not any(
        part in {"site-packages", "dist-packages", ".venv"} for part in resolved.parts
    )
