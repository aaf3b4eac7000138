"""How long a module's data move refuses writes, offline against online, while a writer keeps
writing: the legacy project of the adoption tests (tests/adoption), newsletter untied, its
subscribers moved to its own database by `manage.py movedata`.

    python -m benchmarks.data_move --subscribers 20000            # on SQLite files
    DATABASE_URL=postgres://…/e_default python -m benchmarks.data_move --subscribers 20000

Each mode prints the command's last line (tables, rows, seconds, seconds of refused writes) and
what the writer saw (its writes that succeeded and were refused while it ran).
"""

import argparse
import tempfile
from pathlib import Path

from modulith.testing import wait_until
from tests.adoption.project import Databases, LegacyProject
from tests.adoption.test_moves import WRITER, lines, stopped, writer


def measure(directory: Path, subscribers: int, *, online: bool) -> str:
    databases = Databases.for_suite(directory)
    try:
        project = LegacyProject.seeded(directory / "project", databases, subscribers=subscribers)
        project.adopt(untied=True)
        (project.root / "writer.py").write_text(WRITER)
        databases.create("newsletter")
        log = directory / "writer.jsonl"
        running = writer(project, log, "w")
        try:
            wait_until(
                lambda: any(line["ok"] for line in lines(log)), awaiting="a write", timeout=60
            )
            mode = ["--online"] if online else []
            moved = project.manage(
                "movedata",
                "newsletter",
                *mode,
                NEWSLETTER_DATABASE_URL=databases.url("newsletter"),
            )
        finally:
            stopped(running, log)
        assert moved.returncode == 0, moved.stdout + moved.stderr
        written = lines(log)
        ok = sum(line["ok"] for line in written)
        return (
            f"{moved.stdout.splitlines()[-2]}\n"
            f"  the writer: {ok} writes succeeded, {len(written) - ok} refused"
        )
    finally:
        databases.drop_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=20_000)
    arguments = parser.parse_args()
    for online in (False, True):
        with tempfile.TemporaryDirectory(prefix="data-move-") as directory:
            result = measure(Path(directory), arguments.subscribers, online=online)
        print(f"{'online' if online else 'offline'}: {result}")


if __name__ == "__main__":
    main()
