"""What the test suite's queries tell of the split (`pytest --modulith-queries FILE`): each
statement that joins tables of two units (a module and another module or app), and each
transaction that writes one's tables and touches another's, with the test it ran in. The file
is read by `manage.py readiness --queries FILE`.

Queries made through a query port (by its provider's implementation) are the port's, not a
crossing: they would be a call to the provider once it runs elsewhere."""

import re
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from django.apps import apps
from django.db import connections

from modulith.conf import modulith_settings
from modulith.readiness.queries import JOIN, TRANSACTION, CrossingQuery

WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
# A test database's flush empties every table in one statement: no join.
FLUSH = re.compile(r"^\s*TRUNCATE\b", re.IGNORECASE)
FRAMEWORK = "modulith"


@dataclass
class Transaction:
    """What one transaction (an atomic block of the code under test) touched and wrote."""

    touched: dict[str, set[str]] = field(default_factory=dict)  # unit: tables
    written: set[str] = field(default_factory=set)
    sql: str = ""


class QueryRecorder:
    """Records, for the test running, the statements and transactions that cross units."""

    def __init__(self) -> None:
        self.units = _table_units()
        topology = modulith_settings().topology
        self.modules = {module.name for module in topology.modules}
        self.ports = {
            path.rpartition(".")[0] for m in topology.modules for path in m.provides.values()
        }
        self.tables = (
            re.compile(
                r'(?<![\w.])"?('
                + "|".join(map(re.escape, sorted(self.units, key=len, reverse=True)))
                + r')"?(?![\w])'
            )
            if self.units
            else None
        )
        self.found: list[CrossingQuery] = []
        self._serial = count()

    @contextmanager
    def recording(self, test: str, *, baseline: int) -> Iterator[None]:
        """Records the test's queries on every connection; `baseline` is how many atomic
        blocks the test harness itself holds open (pytest-django's, for a test that is not
        transactional)."""
        open_transactions: dict[str, tuple[object, Transaction]] = {}

        def wrapper_for(alias: str) -> Callable[..., Any]:
            def wrapper(
                execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
            ) -> Any:
                self._seen(test, alias, sql, baseline, open_transactions)
                return execute(sql, params, many, context)

            return wrapper

        with ExitStack() as stack:
            for connection in connections.all():
                stack.enter_context(connection.execute_wrapper(wrapper_for(connection.alias)))
            yield
        for _, transaction in open_transactions.values():
            self._transaction_ended(test, transaction)

    def _seen(
        self,
        test: str,
        alias: str,
        sql: str,
        baseline: int,
        open_transactions: dict[str, tuple[object, Transaction]],
    ) -> None:
        if self.tables is None or FLUSH.match(sql) or _through_a_port(self.ports):
            return
        touched: dict[str, set[str]] = {}
        for table in self.tables.findall(sql):
            unit = self.units[table]
            if unit != FRAMEWORK:
                touched.setdefault(unit, set()).add(table)
        if len(touched) > 1 and self.modules & set(touched):
            self._add(JOIN, test, touched, set(), sql)
        blocks = connections[alias].atomic_blocks
        current = open_transactions.get(alias)
        outer = blocks[baseline] if len(blocks) > baseline else None
        if current is not None and current[0] is not outer:
            self._transaction_ended(test, current[1])
            del open_transactions[alias]
            current = None
        if outer is None:
            return
        if current is None:
            current = open_transactions[alias] = (outer, Transaction())
        transaction = current[1]
        for unit, tables in touched.items():
            transaction.touched.setdefault(unit, set()).update(tables)
        if WRITES.match(sql) and touched:
            transaction.written |= set(touched)
            transaction.sql = transaction.sql or sql

    def _transaction_ended(self, test: str, transaction: Transaction) -> None:
        units = set(transaction.touched)
        if transaction.written and len(units) > 1 and self.modules & units:
            self._add(TRANSACTION, test, transaction.touched, transaction.written, transaction.sql)

    def _add(
        self, kind: str, test: str, touched: dict[str, set[str]], written: set[str], sql: str
    ) -> None:
        self.found.append(
            CrossingQuery(
                kind=kind,
                test=test,
                units=tuple(sorted(touched)),
                written=tuple(sorted(written)),
                tables=tuple(sorted(t for tables in touched.values() for t in tables)),
                sql=" ".join(sql.split())[:500],
            )
        )


def _table_units() -> dict[str, str]:
    """Every table of the project, and the unit (app label) that owns it."""
    return {
        model._meta.db_table: model._meta.app_label
        for model in apps.get_models(include_auto_created=True)
        if not model._meta.proxy
    }


def _through_a_port(ports: set[str]) -> bool:
    """Whether a provider's implementation of a query port made this query."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_globals.get("__name__") in ports:
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False
