"""Running the project's own commands (manage.py, ruff) on the project being scaffolded."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from modulith.tooling.scaffold.errors import ScaffoldError

COMMAND_TIMEOUT = 180


def project_env(root: Path, var_dir: Path) -> dict[str, str]:
    """This environment without deployment choices: every module runs, in process, on SQLite
    files under `var_dir`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("MODULITH_") and not key.endswith("DATABASE_URL")
    }
    env["MODULITH_VAR_DIR"] = str(var_dir)
    env["PYTHONPATH"] = os.pathsep.join([str(root), str(root / "platform")])
    return env


def manage(root: Path, env: dict[str, str], *arguments: str) -> str:
    command = ["manage.py", *arguments]
    try:
        result = subprocess.run(
            [sys.executable, *command],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ScaffoldError(f"{' '.join(command)} took over {COMMAND_TIMEOUT} s") from None
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise ScaffoldError(f"{' '.join(command)} failed: {last}")
    return result.stdout


def ruff_format(root: Path, path: Path) -> bool:
    """Django writes migrations in its own style: sorts their imports and formats them."""
    beside = Path(sys.executable).with_name("ruff")
    ruff = str(beside) if beside.is_file() else shutil.which("ruff")
    if ruff is None:
        return False
    steps = [["check", "--fix", "--select", "I", "--quiet"], ["format", "--quiet"]]
    results = [
        subprocess.run([ruff, *step, str(path)], cwd=root, timeout=60, check=False)
        for step in steps
    ]
    return all(result.returncode == 0 for result in results)
