"""A brand-new Django project adopting modulith, as a newcomer would write it: the project
`django-admin startproject` makes, the framework's lines in its settings, and one module
(`shipping`: a manifest, an event, a handler of it).

Its processes run with nothing of this repository on their path: the framework comes from the
Python given (a venv with the wheel installed, or this one with PYTHONPATH=platform).
"""

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

# Everything the project adds to the settings startproject wrote, in one place: what a newcomer
# has to write (docs/settings.md). The framework's own settings come from the environment.
MODULITH_SETTINGS = """
# modulith
from modulith.conf import deployment, logging_config, middleware

MODULITH_MANIFESTS = ["shipping.module.manifest"]
_deployment = deployment(MODULITH_MANIFESTS, BASE_DIR / "var")
INSTALLED_APPS += ["ninja", "modulith", *_deployment.installed_apps]
MIDDLEWARE = middleware(*MIDDLEWARE)
DATABASES = _deployment.databases
DATABASE_ROUTERS = ["modulith.database.router.ModuleRouter"]
CACHES = _deployment.caches
LOGGING = logging_config()
"""

URLS = """
from django.urls import include

urlpatterns.insert(0, path("", include("modulith.urls")))
"""

MODULE = {
    "__init__.py": "",
    "events.py": """from modulith.contracts import Event


class ParcelSent(Event):
    parcel: str
""",
    "module.py": """from modulith import Module
from shipping.events import ParcelSent

manifest = Module(
    name="shipping",
    app="shipping",
    publishes=(ParcelSent,),
    handles={ParcelSent: "shipping.handlers.on_parcel_sent"},
)
""",
    "handlers.py": """from django.conf import settings

from shipping.events import ParcelSent


def on_parcel_sent(event: ParcelSent) -> None:
    (settings.BASE_DIR / "handled.txt").write_text(event.parcel)
""",
}

# The optional libraries of the framework's extras, as imported.
EXTRA_MODULES = (
    "boto3",
    "botocore",
    "grimp",
    "celery",
    "kombu",
    "prometheus_client",
    "opentelemetry",
    "psycopg",
    "psycopg2",
    "httpx",
)

# Publishes ParcelSent, then visits the API, the admin and /metrics; prints what the handler
# wrote (it runs on a delivery thread: waited for, 10 s at most), the three statuses, the first
# line of /metrics, and which optional libraries got imported. Its log goes to stderr.
PUBLISH = """
import os, sys, time
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
import django
django.setup()
from django.conf import settings
from django.db import transaction
from django.test import Client
from django.test.utils import setup_test_environment
from modulith.bus import publish
from shipping.events import ParcelSent

handled = settings.BASE_DIR / "handled.txt"
handled.unlink(missing_ok=True)
with transaction.atomic(using="shipping"):
    publish(ParcelSent(parcel="P-1"))
# A poll with a deadline, written out: this venv holds the core wheel alone, without the test
# harness (modulith.testing needs pytest).
# The handler's write_text makes the file, then writes it: wait for what it wrote.
def written():
    return handled.read_text() if handled.exists() else ""
deadline = time.monotonic() + 10
while not written() and time.monotonic() < deadline:
    time.sleep(0.05)
print("handled", written() or "nothing")
setup_test_environment()
client = Client()
print("api", client.get("/api/openapi.json").status_code)
print("admin", client.get("/admin/login/").status_code)
metrics = client.get("/metrics")
print("metrics", metrics.status_code, metrics.content.decode().splitlines()[0])
print("imported", ",".join(sorted(name for name in EXTRA_MODULES if sys.modules.get(name))))
"""


def start(root: Path, python: Path) -> Path:
    """What `django-admin startproject mysite` makes in `root`, with the django-admin beside
    `python`."""
    root.mkdir(parents=True, exist_ok=True)
    django_admin = python.with_name("django-admin")
    subprocess.run(
        [str(django_admin), "startproject", "mysite", str(root)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return root


def create(root: Path, python: Path) -> Path:
    """The project in `root`, made with the django-admin beside `python`."""
    start(root, python)
    with (root / "mysite" / "settings.py").open("a", encoding="utf-8") as file:
        file.write(MODULITH_SETTINGS)
    with (root / "mysite" / "urls.py").open("a", encoding="utf-8") as file:
        file.write(URLS)
    (root / "shipping").mkdir()
    for name, text in MODULE.items():
        (root / "shipping" / name).write_text(text, encoding="utf-8")
    (root / "publish.py").write_text(
        f"EXTRA_MODULES = {EXTRA_MODULES!r}\n" + PUBLISH, encoding="utf-8"
    )
    return root


def run(
    root: Path,
    python: Path,
    *args: str,
    blocked: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """`python <args>` in the project (`manage.py check`, `publish.py`), on nothing of this
    repository but what `env` puts on the path. `blocked` modules fail to import, as if they
    were not installed."""
    command = [str(python), *args]
    if blocked:
        command = [
            str(python),
            "-c",
            "import runpy, sys\n"
            f"for name in {tuple(blocked)!r}:\n"
            "    sys.modules[name] = None\n"
            f"sys.argv = {list(args)!r}\n"
            "runpy.run_path(sys.argv[0], run_name='__main__')\n",
        ]
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "MODULITH_", "PYTHON", "VIRTUAL_ENV", "AWS_"))
        and not name.endswith("DATABASE_URL")
    }
    return subprocess.run(
        command,
        cwd=root,
        env={**inherited, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
