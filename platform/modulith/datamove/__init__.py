"""Moving a module from a database it shares to one of its own (`manage.py movedata`): copy in
batches, verify, cut over, and later drop the old copy; resumable, and online with a catch-up
copy (docs/adopting.md)."""

from modulith.datamove.models import ModuleMove, MoveState
from modulith.datamove.move import Move, MoveRefused, MoveReport

__all__ = ["ModuleMove", "Move", "MoveRefused", "MoveReport", "MoveState"]
