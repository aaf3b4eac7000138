"""The shop's settings, from the environment: its modules, Django's own settings, Celery's.
The framework's (every MODULITH_* and their defaults, docs/settings.md) live in modulith; the
defaults are the embedded monolith: SQLite files under var/, the in-process bus, Celery tasks
run eagerly."""

from pathlib import Path

from modulith.conf import (
    deployment,
    env_bool,
    env_int,
    env_str,
    logging_config,
    middleware,
    parse_duration,
    security_settings,
)
from modulith.modules.errors import ConfigurationError

BASE_DIR = Path(__file__).resolve().parent.parent

# Every module of the shop. Which of them run here is MODULITH_MODULES; their databases are
# <MODULE>_DATABASE_URL (by default SQLite files under MODULITH_VAR_DIR, or var/).
MODULITH_MANIFESTS = [
    "modules.orders.module.manifest",
    "modules.inventory.module.manifest",
    "modules.payments.module.manifest",
]
_deployment = deployment(MODULITH_MANIFESTS, BASE_DIR / "var")

MODULITH_API_TITLE = "Modulith shop"
# Business ids of the shop's events and requests that every log line about them carries
# (orderId -> order_id).
MODULITH_LOG_CORRELATION_FIELDS = ["orderId"]

# How long a placed order waits for its payment before orders cancels it (PAYMENT_TIMEOUT) and
# its stock goes back on sale: seconds or a number and a unit (90, 15m, 2h).
ORDERS_PAYMENT_TIMEOUT = parse_duration(
    "ORDERS_PAYMENT_TIMEOUT", env_str("ORDERS_PAYMENT_TIMEOUT", "15m")
)

# Off unless development asks for it (`make run`, `make split` and the tests set
# DJANGO_DEBUG=1): a deployment that forgets the variable runs with DEBUG off, and so needs a
# secret key and API keys of its own.
DEVELOPMENT_SECRET_KEY = "django-insecure-development-only"
DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY", DEVELOPMENT_SECRET_KEY if DEBUG else "")
if not DEBUG and not SECRET_KEY:
    raise ConfigurationError(
        "DEBUG is off (DJANGO_DEBUG unset or 0) and needs DJANGO_SECRET_KEY: set it to a long "
        "random secret, or DJANGO_DEBUG=1 for development"
    )

# ALLOWED_HOSTS, HTTPS behind the load balancer (redirect, HSTS, secure cookies, the proxy's
# X-Forwarded-Proto) and CSRF_TRUSTED_ORIGINS, from DJANGO_* variables: on with DEBUG off, so
# that `manage.py check --deploy` is clean as deployed (docs/settings.md).
globals().update(security_settings(debug=DEBUG))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",
    "modulith",
    *_deployment.installed_apps,
]

MIDDLEWARE = middleware(
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
)

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# One database per module (its name is its alias), Django's own apps on `default`; the cache
# from MODULITH_CACHE_URL (Redis), else a table in `default`.
DATABASES = _deployment.databases
DATABASE_ROUTERS = ["modulith.database.router.ModuleRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
CACHES = _deployment.caches

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
STATIC_URL = "static/"
# Collected at build time, apart from var/ (data), so that a volume on var/ cannot hide them.
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing root
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

# Celery: without a broker, tasks run eagerly in this process (the single-container default),
# and the web process sweeps the outbox itself instead of beat (MODULITH_EMBEDDED_RELAY).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "memory://")
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL == "memory://"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redis and SQS hand a task that a worker took but never acknowledged (tasks are acknowledged
# late: the worker died mid-task) to another worker after this many seconds. Keep it above the
# relay's claim on a delivery (MODULITH_CLAIM_SECONDS, 15 s by default): a task handed out
# again before the claim lapses finds the delivery claimed and does nothing, and beat's sweep
# delivers it once the claim lapses.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "modulith-celery")

# JSON lines (LOG_FORMAT=plain for a terminal) with the trace id, the module, the event and
# the correlation fields; LOG_LEVEL for the root logger.
LOGGING = logging_config()
