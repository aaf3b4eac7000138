"""The front door: nginx routing each module's public API to the service that runs it, as an
ALB's path rules would."""

import grp
import os
import pwd
from collections.abc import Mapping

from modulith.modules import Topology
from modulith.tooling.deployment.front_door import PathRule, front_door_rules

TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
SERVER_SETTINGS = [
    "client_max_body_size 1m;",
    "client_body_buffer_size 1m;  # bodies stay in memory: no temporary files",
    "proxy_max_temp_file_size 0;",
    "proxy_http_version 1.1;",
    'proxy_set_header Connection "";',
    "proxy_set_header Host $host;",
    "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
    "proxy_set_header X-Forwarded-Proto $scheme;",
    "proxy_connect_timeout 2s;",
    "proxy_read_timeout 30s;",
]


def front_door_routes(topology: Topology, upstreams: Mapping[str, str], *, listen: str) -> str:
    """nginx `upstream` and `server` blocks (for an `http {}` block, or conf.d/): each module's
    public API to the service that runs it; the API docs (and their static files) to the first
    module's service; `/internal/` and everything else answer 404."""
    rules = front_door_rules(topology)
    routed = list(dict.fromkeys(rule.module for rule in rules))
    blocks = [_upstream(name, upstreams[name]) for name in routed]
    return "\n\n".join([*blocks, _server(listen, _locations(rules))]) + "\n"


def standalone_nginx_conf(routes: str, *, pid: str, error_log: str, access_log: str) -> str:
    """A whole nginx.conf around `front_door_routes`, for an nginx run in the foreground
    (`nginx -p PREFIX -c FILE -e ERROR_LOG`); its temporary directories are under PREFIX."""
    indented = "\n".join(f"    {line}" if line else "" for line in routes.splitlines())
    user = _worker_user()
    return "\n".join(
        [
            *([f"user {user};"] if user else []),
            "daemon off;",
            "worker_processes 1;",
            f"pid {pid};",
            f"error_log {error_log} warn;",
            "events { worker_connections 512; }",
            "http {",
            f"    access_log {access_log};",
            "    keepalive_timeout 30s;",
            *(f"    {kind}_temp_path {kind}_temp;" for kind in TEMP_PATHS),
            indented,
            "}",
            "",
        ]
    )


def _locations(rules: list[PathRule]) -> list[str]:
    """A prefix rule is the path itself and everything under `path/`, as for an Ingress."""
    locations = []
    for rule in rules:
        locations.append(_location(f"= {rule.path}", rule.module))
        if rule.prefix:
            locations.append(_location(f"{rule.path}/", rule.module))
    return locations


def _server(listen: str, locations: list[str]) -> str:
    return "\n".join(
        [
            "server {",
            f"    listen {listen};",
            *(f"    {setting}" for setting in SERVER_SETTINGS),
            "",
            *locations,
            "    location /internal/ { return 404; }  # signed calls between services only",
            "    location / { return 404; }",
            "}",
        ]
    )


def _worker_user() -> str | None:
    """Started as root, nginx runs its workers as nobody (they only proxy: they read no file);
    otherwise as the user who started it."""
    if os.geteuid() != 0:
        return None
    nobody = pwd.getpwnam("nobody")
    return f"nobody {grp.getgrgid(nobody.pw_gid).gr_name}"


def _upstream(name: str, address: str) -> str:
    return f"upstream {name} {{\n    server {address};\n    keepalive 16;\n}}"


def _location(match: str, upstream: str) -> str:
    return f"    location {match} {{ proxy_pass http://{upstream}; }}"
