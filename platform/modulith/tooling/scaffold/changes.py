"""What the scaffolding did to the project, so that a failure can undo it."""

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class Changes:
    """What the scaffolding did to the project, so that a failure can undo it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._created: list[Path] = []  # files and the directories made for them, in order
        self._tracked: list[Path] = []  # files written by the project's commands
        self._edited: dict[Path, str] = {}
        self._directories: dict[Path, dict[str, str]] = {}

    @property
    def created_files(self) -> list[str]:
        files = [p for p in [*self._created, *self._tracked] if p.is_file()]
        return [p.relative_to(self.root).as_posix() for p in files]

    @property
    def edited_files(self) -> list[str]:
        return [p.relative_to(self.root).as_posix() for p in self._edited]

    def create(self, relative: str, text: str) -> None:
        path = self.root / relative
        missing = [p for p in reversed(path.parents) if not p.exists()]
        for directory in missing:
            directory.mkdir()
            self._created.append(directory)
        path.write_text(text, encoding="utf-8")
        self._created.append(path)

    def track(self, relative: str) -> None:
        self._tracked.append(self.root / relative)

    def edit(self, path: Path, text: str) -> None:
        self._edited.setdefault(path, path.read_text(encoding="utf-8"))
        path.write_text(text, encoding="utf-8")

    def remember_directory(self, directory: Path) -> None:
        """Keeps the directory's files, to restore them (and only them) on failure."""
        if not directory.exists():
            self._created.append(directory)
        self._directories[directory] = {
            path.name: path.read_text(encoding="utf-8")
            for path in directory.glob("*")
            if path.is_file()
        }

    @contextmanager
    def undone_on_error(self) -> Iterator[None]:
        try:
            yield
        except BaseException:
            self._undo()
            raise

    def _undo(self) -> None:
        for directory, kept in self._directories.items():
            for path in directory.glob("*"):
                if path.is_file() and path.name not in kept:
                    path.unlink()
            for name, text in kept.items():
                (directory / name).write_text(text, encoding="utf-8")
        for path, text in self._edited.items():
            path.write_text(text, encoding="utf-8")
        for path in reversed(self._created):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
