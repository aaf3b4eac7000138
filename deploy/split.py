"""The split topology on this machine: every module as its own service.

    .venv/bin/python deploy/split.py up [--port 8080] [--transport eventbridge|sqs|sns]
    .venv/bin/python deploy/split.py down

`up` starts the AWS emulator (moto), provisions the queues, bus and rules, then, for every
module, its web process and its consumer through deploy/entrypoint.sh, with the environment
`manage.py extract` describes: its own SQLite files under var/split/<module>/, the URLs of the
services it calls, one internal secret for all, in development (DJANGO_DEBUG=1: the development
secret key and API key, plain HTTP). nginx is the front door on 127.0.0.1:PORT and
routes /api/<module> to the module's service, as an ALB's path rules would; /internal/ is not
exposed. Every PID goes to var/split/pids.json (and the URLs to urls.json), and `down` stops
exactly those process groups.
"""

import argparse
import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:  # imported for real once the project is on the path (see _topology)
    from modulith.modules import Module, Topology

ROOT = Path(__file__).resolve().parent.parent
ENTRYPOINT = ROOT / "deploy" / "entrypoint.sh"
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
NAMES = "split"  # queue prefix and event bus
DEMO_DATA = {"inventory": {"MODULITH_LOAD_DEMO_CATALOGUE": "1"}}
# The split is development: DEBUG on, asked for explicitly (it is off by default).
DEVELOPMENT = {"DJANGO_DEBUG": "1"}
DEVELOPMENT_API_KEY = "dev-api-key"  # what the services accept with DEBUG on
INSTALL_NGINX = "apt-get install -y --no-install-recommends nginx"


class SplitError(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    state = Path(args.dir).resolve()
    try:
        if args.command == "up":
            up(state, port=args.port, transport=args.transport, emulator_port=args.emulator_port)
        else:
            down(state)
    except SplitError as error:
        print(f"split: {error}", file=sys.stderr)
        return 1
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--dir", default=str(ROOT / "var" / "split"), help="state and logs")
    parser.add_argument("--port", type=int, default=int(os.environ.get("SPLIT_PORT", "8080")))
    parser.add_argument("--transport", choices=["eventbridge", "sqs", "sns"], default="eventbridge")
    parser.add_argument("--emulator-port", type=int, help="default: a free port")
    return parser


# -- up ------------------------------------------------------------------------------------


def up(state: Path, *, port: int, transport: str, emulator_port: int | None) -> None:
    pids = Pids(state / "pids.json")
    if pids.path.exists():
        raise SplitError(f"already up ({pids.path} exists): run `make split-down` first")
    nginx = _nginx_binary()
    _check_free(port)
    state.mkdir(parents=True, exist_ok=True)
    try:
        urls = _start_all(state, pids, nginx, port, transport, emulator_port or free_port())
    except BaseException:
        print("split: start failed; stopping what was started", file=sys.stderr)
        down(state)
        raise
    (state / "urls.json").write_text(json.dumps(urls, indent=2) + "\n")
    _print_urls(state, transport, urls)


def _start_all(
    state: Path, pids: "Pids", nginx: str, port: int, transport: str, emulator_port: int
) -> dict[str, str]:
    topology = _topology()
    endpoint = _start_emulator(state, pids, emulator_port)
    shared = {**_base_env(), **DEVELOPMENT, **_aws_env(endpoint), "MODULITH_TRANSPORT": transport}
    _run(state, "provision", [sys.executable, "manage.py", "provision"], shared)
    ports = {m.name: free_port() for m in topology.modules}
    secret = secrets.token_hex(32)
    envs = {
        m.name: {**shared, **_module_env(topology, m, state, ports, transport, secret)}
        for m in topology.modules
    }
    _start_services(state, pids, envs, ports)
    for module in (m for m in topology.modules if m.handles):
        name = f"{module.name}-consumer"
        pids.add(name, _spawn(state, name, [str(ENTRYPOINT), "consume"], envs[module.name]))
    front_door = _start_front_door(state, pids, nginx, topology, ports, port)
    services = {name: f"http://{HOST}:{p}" for name, p in ports.items()}
    return {"front door": front_door, "emulator": endpoint, **services}


def _start_emulator(state: Path, pids: "Pids", port: int) -> str:
    moto = [str(BIN / "moto_server"), "-H", HOST, "-p", str(port)]
    pids.add("emulator", _spawn(state, "emulator", moto, _base_env()))
    endpoint = f"http://{HOST}:{port}"
    _wait_http(f"{endpoint}/moto-api/", "the emulator", state, pids["emulator"])
    return endpoint


def _start_services(
    state: Path, pids: "Pids", envs: Mapping[str, dict[str, str]], ports: Mapping[str, int]
) -> None:
    """Every module's web process at once (each migrates its databases first), then waits."""
    for name, env in envs.items():
        pids.add(f"{name}-web", _spawn(state, f"{name}-web", [str(ENTRYPOINT), "web"], env))
    for name in envs:
        ready = f"http://{HOST}:{ports[name]}/health/ready"
        _wait_http(ready, f"the {name} service", state, pids[f"{name}-web"])


def _topology() -> "Topology":
    """The manifests' topology, read through the project's settings (all modules)."""
    sys.path[:0] = [str(ROOT), str(ROOT / "platform")]
    for name in list(os.environ):
        if _foreign(name):
            del os.environ[name]
    os.environ.update(DEVELOPMENT, DJANGO_SETTINGS_MODULE="config.settings")
    import django

    from modulith.conf import modulith_settings

    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the waits below are not news
    return modulith_settings().topology


def _module_env(
    topology: "Topology",
    module: "Module",
    state: Path,
    ports: Mapping[str, int],
    transport: str,
    secret: str,
) -> dict[str, str]:
    """`service_environment` of the module, with this machine's values filled in."""
    from modulith.tooling.extraction import database_variable, service_environment

    urls = {name: f"http://{HOST}:{port}" for name, port in ports.items()}
    env = service_environment(topology, [module], transport=transport, urls=urls)
    var_dir = state / module.name
    env |= {
        database_variable(module.name): f"sqlite:///{var_dir / f'{module.name}.sqlite3'}",
        "MODULITH_VAR_DIR": str(var_dir),  # Django's own `default` database too
        "BIND": f"{HOST}:{ports[module.name]}",
        "WEB_CONCURRENCY": "2",
        "MODULITH_CONSUMER_WAIT_SECONDS": "5",  # `down` waits at most this for a consumer
        **DEMO_DATA.get(module.name, {}),
    }
    if "MODULITH_INTERNAL_SECRET" in env:
        env["MODULITH_INTERNAL_SECRET"] = secret
    return env


def _foreign(name: str) -> bool:
    """Variables of the calling shell that would change what the services run."""
    return name.endswith("DATABASE_URL") or name.startswith(
        ("DJANGO_", "MODULITH_", "CELERY_", "AWS_")
    )


def _base_env() -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not _foreign(name)}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["NO_PROXY"] = f"{HOST},localhost"
    return env


def _aws_env(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "MODULITH_QUEUE_PREFIX": NAMES,
        "MODULITH_EVENT_BUS": NAMES,
    }


def _start_front_door(
    state: Path,
    pids: "Pids",
    nginx: str,
    topology: "Topology",
    ports: Mapping[str, int],
    port: int,
) -> str:
    """nginx, configured from the manifests, in the foreground in var/split/nginx/."""
    from modulith.tooling.deployment import front_door_routes, standalone_nginx_conf

    prefix = state / "nginx"
    prefix.mkdir(exist_ok=True)
    upstreams = {name: f"{HOST}:{p}" for name, p in ports.items()}
    routes = front_door_routes(topology, upstreams, listen=f"{HOST}:{port}")
    config = standalone_nginx_conf(
        routes, pid="nginx.pid", error_log="error.log", access_log="access.log"
    )
    (prefix / "nginx.conf").write_text(config)
    command = [nginx, "-p", f"{prefix}/", "-c", str(prefix / "nginx.conf"), "-e", "error.log"]
    pids.add("nginx", _spawn(state, "nginx", command, _base_env()))
    front_door = f"http://{HOST}:{port}"
    _wait_http(
        f"{front_door}/api/inventory/products",
        "the front door",
        state,
        pids["nginx"],
        headers={"X-API-Key": DEVELOPMENT_API_KEY},
    )
    return front_door


def _nginx_binary() -> str:
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )
    if not found:
        raise SplitError(f"nginx is not installed: {INSTALL_NGINX} (`make split` does it as root)")
    return found


def _print_urls(state: Path, transport: str, urls: Mapping[str, str]) -> None:
    print(f"the split is up ({transport}); logs and databases in {state}/")
    for name, url in urls.items():
        print(f"  {name:<11} {url}")
    front_door = urls["front door"]
    print(
        f"  try: curl -s -H 'X-API-Key: {DEVELOPMENT_API_KEY}' {front_door}/api/inventory/products"
    )
    print(f"  docs: {front_door}/api/docs")
    print("stop it with: make split-down")


# -- processes -----------------------------------------------------------------------------


class Pids:
    """The PIDs of what `up` started, by name, in start order; saved after each start."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, int]:
        if not self.path.exists():
            return {}
        return {name: int(pid) for name, pid in json.loads(self.path.read_text()).items()}

    def __getitem__(self, name: str) -> int:
        return self.read()[name]

    def add(self, name: str, pid: int) -> None:
        self.path.write_text(json.dumps({**self.read(), name: pid}, indent=2) + "\n")


def _spawn(state: Path, name: str, command: list[str], env: Mapping[str, str]) -> int:
    """Starts `command` in a new session (its PID is its process group) logging to NAME.log."""
    with (state / f"{name}.log").open("ab") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return process.pid


def _run(state: Path, name: str, command: list[str], env: Mapping[str, str]) -> None:
    with (state / f"{name}.log").open("ab") as log:
        done = subprocess.run(
            command, cwd=ROOT, env=dict(env), stdout=log, stderr=subprocess.STDOUT, timeout=120
        )
    if done.returncode != 0:
        raise SplitError(f"{name} failed (exit {done.returncode}); see {state / name}.log")


def _wait_http(
    url: str,
    what: str,
    state: Path,
    pid: int,
    timeout: float = 60,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Until `url` answers 200; fails at once when the process group `pid` has gone."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _group_alive(pid):
            raise SplitError(f"{what} exited; see its log in {state}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, headers=headers, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise SplitError(f"{what} did not answer {url} within {timeout:.0f} s; logs in {state}")


def _check_free(port: int) -> None:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as nginx does
        try:
            probe.bind((HOST, port))
        except OSError:
            raise SplitError(f"{HOST}:{port} is taken: choose another with SPLIT_PORT") from None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


# -- down ----------------------------------------------------------------------------------


def down(state: Path) -> None:
    pids = Pids(state / "pids.json")
    recorded = pids.read()
    if not recorded:
        print(f"nothing to stop: no {pids.path}")
        return
    print(f"stopping {', '.join(reversed(recorded))}")
    stop_groups(list(reversed(recorded.values())))
    pids.path.unlink()
    (state / "urls.json").unlink(missing_ok=True)


def stop_groups(groups: list[int], timeout: float = 15) -> None:
    """SIGTERM to each process group, SIGKILL to what is left after `timeout`. A PID that no
    longer leads its own group is not one we started: it is left alone."""
    ours = [pgid for pgid in groups if _leads_group(pgid)]
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        for pgid in ours:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, sig)
        deadline = time.monotonic() + wait
        while any(map(_group_alive, ours)) and time.monotonic() < deadline:
            time.sleep(0.1)
        ours = [pgid for pgid in ours if _group_alive(pgid)]
        if not ours:
            return
    raise SplitError(f"process groups {ours} survived SIGKILL")


def _leads_group(pid: int) -> bool:
    try:
        return os.getpgid(pid) == pid
    except ProcessLookupError:
        return _group_alive(pid)  # the leader has gone, its group may not have


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs (zombies, waiting for init, do not count)."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            state, _parent, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
            if int(group) == pgid and state != "Z":
                return True
    return False


if __name__ == "__main__":
    sys.exit(main())
