"""podman, with a store and configuration of its own, to build the Dockerfile unchanged and run
its image without a Docker engine (see /work/shared/TESTING.md for the facts behind it).

Docker Hub is out of reach here, so the Dockerfile's base, python:3.11-slim-bookworm, is
stood in for by a Debian bookworm made with debootstrap from the mirror apt uses, with
Debian's Python 3.11 and the host's CA certificates (an egress proxy may re-sign TLS), tagged
with the base's exact name. The store (MODULITH_CONTAINER_STORE, default var/containers/)
keeps the stand-in and the layers between runs: only the first run pays for debootstrap.
"""

import json
import os
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASE = "docker.io/library/python:3.11-slim-bookworm"
DEBIAN = "localhost/debian:bookworm-slim"
STAND_IN = (
    f"FROM {DEBIAN}\n"
    "COPY certificates/ /usr/local/share/ca-certificates/\n"
    "RUN apt-get update -qq \\\n"
    " && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \\\n"
    "    python3 python3-venv python3-pip python-is-python3 ca-certificates >/dev/null \\\n"
    " && update-ca-certificates >/dev/null \\\n"
    " && rm -f /usr/lib/python3.11/EXTERNALLY-MANAGED \\\n"
    " && rm -rf /var/lib/apt/lists/*\n"
    # pip in the build verifies PyPI against the system's bundle, the host's CAs included.
    "ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt\n"
)


class PodmanError(RuntimeError):
    pass


def store_directory() -> Path:
    return Path(os.environ.get("MODULITH_CONTAINER_STORE") or ROOT / "var" / "containers")


class Podman:
    """podman with its configuration and store under one directory."""

    def __init__(self, store: Path) -> None:
        self.store = store
        store.mkdir(parents=True, exist_ok=True)
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        nofile = "65536" if hard == resource.RLIM_INFINITY else str(hard)
        # Root here cannot raise hard limits: containers get the host's own. crun refuses
        # this kernel's hybrid cgroups; there is no systemd for cgroups or the event log.
        (store / "containers.conf").write_text(
            "[containers]\n"
            f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc=32768:32768"]\n'
            "[engine]\n"
            'runtime = "runc"\n'
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "file"\n'
            f'tmp_dir = "{store / "tmp"}"\n'
        )
        (store / "storage.conf").write_text(
            "[storage]\n"
            'driver = "overlay"\n'
            f'graphroot = "{store / "graph"}"\n'
            f'runroot = "{store / "run"}"\n'
        )
        self.env = {
            **os.environ,
            "CONTAINERS_CONF": str(store / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(store / "storage.conf"),
            "TMPDIR": str(store / "tmp"),
        }
        (store / "tmp").mkdir(exist_ok=True)

    def __call__(
        self, *args: str, timeout: float = 120, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["podman", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise PodmanError(
                f"podman {' '.join(args[:3])} ... exited {result.returncode}:\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result

    def has_image(self, name: str) -> bool:
        return self("image", "exists", name, check=False).returncode == 0

    def ensure_base(self) -> None:
        """The stand-in for the Dockerfile's base image, made once per store."""
        if self.has_image(BASE):
            return
        if not self.has_image(DEBIAN):
            self._import_debian()
        with tempfile.TemporaryDirectory(dir=self.store / "tmp") as context:
            certificates = Path(context) / "certificates"
            certificates.mkdir()
            for found in Path("/usr/local/share/ca-certificates").glob("*.crt"):
                shutil.copy(found, certificates / found.name)
            (Path(context) / "Containerfile").write_text(STAND_IN)
            self("build", "--network", "host", "--pull=never", "-t", BASE, context, timeout=600)

    def _import_debian(self) -> None:
        rootfs = self.store / "tmp" / "bookworm-rootfs"
        shutil.rmtree(rootfs, ignore_errors=True)
        started = time.monotonic()
        failure = ""
        for _ in range(2):  # a mirror's hiccup is not the image's fault: once more
            made = subprocess.run(
                ["debootstrap", "--variant=minbase", "bookworm", str(rootfs), debian_mirror()],
                stdin=subprocess.DEVNULL,  # a test worker's stdin is its channel to pytest
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
            if made.returncode == 0:
                break
            log = rootfs / "debootstrap" / "debootstrap.log"
            failure = (made.stdout + made.stderr)[-2000:] + (
                log.read_text(errors="replace")[-2000:] if log.is_file() else ""
            )
            shutil.rmtree(rootfs, ignore_errors=True)
        else:
            raise PodmanError(f"debootstrap failed twice: {failure}")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        try:
            imported = subprocess.run(
                ["podman", "import", "-", DEBIAN],
                stdin=tar.stdout,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
        finally:
            if tar.stdout:
                tar.stdout.close()
            tar.wait(timeout=60)
        shutil.rmtree(rootfs, ignore_errors=True)
        if imported.returncode != 0:
            raise PodmanError(f"podman import failed: {imported.stderr[-2000:]}")
        print(f"debootstrap and import took {time.monotonic() - started:.0f} s")

    def build(self, tag: str) -> None:
        """The project's Dockerfile, unchanged, as `docker build` would build it (the docker
        format keeps its HEALTHCHECK)."""
        self.ensure_base()
        self(
            "build",
            "--format",
            "docker",
            "--network",
            "host",
            "--pull=never",
            "-t",
            tag,
            str(ROOT),
            timeout=900,
        )

    def inspect(self, name: str) -> dict[str, object]:
        [found] = json.loads(self("inspect", name).stdout)
        return dict(found)


def debian_mirror() -> str:
    """The Debian archive apt uses here (deb822 `URIs:` or one-line `deb` sources): the first
    URI ending in /debian, so neither the security archive nor a third party's."""
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in sources:
        if not path.is_file():
            continue
        for word in path.read_text().split():
            if "://" in word and word.rstrip("/").endswith("/debian"):
                return word
    return "http://deb.debian.org/debian"
