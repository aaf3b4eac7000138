"""Gradual boundaries (`manage.py boundaries`): an import-linter independence contract over
the project's modules and its other apps, with today's imports across them as an
`ignore_imports` baseline that can only shrink (docs/adopting.md)."""

from modulith.boundaries.baseline import Baseline, crossing_imports, project_units
from modulith.boundaries.pyproject import CONTRACT_ID, with_contract, written_baseline

__all__ = [
    "CONTRACT_ID",
    "Baseline",
    "crossing_imports",
    "project_units",
    "with_contract",
    "written_baseline",
]
