"""Settings, all from the environment. Defaults are the embedded monolith: SQLite files under
var/, the in-process bus, Celery tasks run eagerly."""

from pathlib import Path
from typing import Any

from modulith.conf import (
    deployment,
    env_bool,
    env_duration,
    env_float,
    env_int,
    env_list,
    env_str,
    on_lambda,
)
from modulith.errors import ConfigurationError

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("MODULITH_VAR_DIR", str(BASE_DIR / "var")))

# Every module of the application. Which of them run here is MODULITH_MODULES.
MODULITH_MANIFESTS = [
    "modules.orders.module.manifest",
    "modules.inventory.module.manifest",
    "modules.payments.module.manifest",
]
_deployment = deployment(MODULITH_MANIFESTS, VAR_DIR)
MODULITH_TOPOLOGY = _deployment.topology

DEVELOPMENT_SECRET_KEY = "django-insecure-development-only"
DEVELOPMENT_API_KEY = "dev-api-key"

DEBUG = env_bool("DJANGO_DEBUG", True)
SECRET_KEY = env_str("DJANGO_SECRET_KEY", DEVELOPMENT_SECRET_KEY if DEBUG else "")
MODULITH_API_KEYS = env_list("MODULITH_API_KEYS") or [DEVELOPMENT_API_KEY]
if not DEBUG and not SECRET_KEY:
    raise ConfigurationError(
        "DJANGO_DEBUG=0 needs DJANGO_SECRET_KEY: set it to a long random secret"
    )
if not DEBUG and DEVELOPMENT_API_KEY in MODULITH_API_KEYS:
    raise ConfigurationError(
        "DJANGO_DEBUG=0 refuses the development API key: set MODULITH_API_KEYS to your own keys"
    )

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS") or (["*"] if DEBUG else ["localhost", "127.0.0.1"])

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

MIDDLEWARE = [
    "modulith.http.health.HealthCheckMiddleware",
    "modulith.http.middleware.TraceMiddleware",
    "modulith.http.middleware.AccessLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

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

# One database per module (its name is its alias), Django's own apps on `default`.
DATABASES = _deployment.databases
DATABASE_ROUTERS = ["modulith.db.ModuleRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The cache: Redis when MODULITH_CACHE_URL names one, otherwise a table in `default` (Django's
# own apps' database, never a module's), created by `manage.py migrate_modules`.
_cache_url = env_str("MODULITH_CACHE_URL", "")
if _cache_url and not _cache_url.startswith(("redis://", "rediss://")):
    raise ConfigurationError(
        f"MODULITH_CACHE_URL={_cache_url!r} is not a Redis URL: use redis://host:6379/0, "
        "or leave it unset for the cache table in the default database"
    )
CACHES: dict[str, dict[str, Any]]
if _cache_url:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _cache_url,
        }
    }
else:
    # Past MAX_ENTRIES the table is culled, live entries too: keep it well above the nonces
    # of internal calls in two minutes (their lifetime), or a culled nonce could be replayed.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "modulith_cache",
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }

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

# The event bus.
MODULITH_TRANSPORT = env_str("MODULITH_TRANSPORT", "inprocess")
# On Lambda, deliveries after commit run before the response: a frozen function runs no thread.
MODULITH_ASYNC_HANDLERS = env_str("MODULITH_ASYNC_HANDLERS", "inline" if on_lambda() else "thread")
MODULITH_MAX_ATTEMPTS = env_int("MODULITH_MAX_ATTEMPTS", 5)
MODULITH_RETRY_BASE_SECONDS = env_float("MODULITH_RETRY_BASE_SECONDS", 1.0)
MODULITH_RETRY_MAX_SECONDS = env_float("MODULITH_RETRY_MAX_SECONDS", 300.0)
MODULITH_MAX_EVENT_BYTES = env_int("MODULITH_MAX_EVENT_BYTES", 256 * 1024)
MODULITH_RELAY_INTERVAL = env_float("MODULITH_RELAY_INTERVAL", 2.0)
# How long a relay's claim on a delivery holds before another relay may take it over.
MODULITH_CLAIM_SECONDS = env_float("MODULITH_CLAIM_SECONDS", 15.0)
# The longest wait between two probes of a route (a queue, the bus, a subscriber) that is
# down; its events wait in the outbox meanwhile, attempts untouched.
MODULITH_ROUTE_PROBE_MAX_SECONDS = env_float("MODULITH_ROUTE_PROBE_MAX_SECONDS", 30.0)
# How long delivered events are kept for inspection (0: deleted as they are delivered), and
# how long inbox records are (at least the 14 days a message can come back from a DLQ).
MODULITH_OUTBOX_RETENTION = env_duration("MODULITH_OUTBOX_RETENTION", "7d")
MODULITH_INBOX_RETENTION = env_duration("MODULITH_INBOX_RETENTION", "14d")

# Query ports whose provider runs elsewhere: signed HTTP calls to its /internal/ endpoints.
MODULITH_INTERNAL_SECRET = env_str("MODULITH_INTERNAL_SECRET", "")
MODULITH_DISCOVERY = env_str("MODULITH_DISCOVERY", "static")
MODULITH_SERVICE_URLS = env_str("MODULITH_SERVICE_URLS", "")
MODULITH_CLOUDMAP_NAMESPACE = env_str("MODULITH_CLOUDMAP_NAMESPACE", "internal")
MODULITH_REMOTE_CONNECT_TIMEOUT = env_float("MODULITH_REMOTE_CONNECT_TIMEOUT", 1.0)
MODULITH_REMOTE_READ_TIMEOUT = env_float("MODULITH_REMOTE_READ_TIMEOUT", 3.0)
# How long a provider's circuit stays open before one trial call is let through.
MODULITH_BREAKER_RESET_SECONDS = env_float("MODULITH_BREAKER_RESET_SECONDS", 10.0)
# The cache (of CACHES) where providers remember the nonces of internal calls: shared by
# every instance of a service, so a replay to another instance is refused too.
MODULITH_NONCE_CACHE = "default"

# AWS transports: boto3 is configured the standard way (credential chain, AWS_ENDPOINT_URL,
# AWS_DEFAULT_REGION); these only name the resources.
MODULITH_QUEUE_PREFIX = env_str("MODULITH_QUEUE_PREFIX", "modulith")
MODULITH_EVENT_BUS = env_str("MODULITH_EVENT_BUS", "modulith")
MODULITH_MAX_RECEIVES = env_int("MODULITH_MAX_RECEIVES", 5)
MODULITH_VISIBILITY_TIMEOUT = env_int("MODULITH_VISIBILITY_TIMEOUT", 30)
MODULITH_CONSUMER_WAIT_SECONDS = env_int("MODULITH_CONSUMER_WAIT_SECONDS", 20)

# Celery: without a broker, tasks run eagerly in this process (the single-container default),
# and the web process sweeps the outbox itself instead of beat.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "memory://")
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL == "memory://"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redis and SQS hand a task that a worker took but never acknowledged (tasks are acknowledged
# late: the worker died mid-task) to another worker after this many seconds. Keep it above the
# relay's claim on a delivery (60 s): a task handed out again before the claim lapses finds
# the delivery claimed and does nothing, and beat's sweep delivers it once the claim lapses.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "modulith-celery")
CELERY_BEAT_SCHEDULE = {
    "sweep-outboxes": {"task": "modulith.sweep", "schedule": MODULITH_RELAY_INTERVAL},
}
# On Lambda the relay function's schedule sweeps instead.
MODULITH_EMBEDDED_RELAY = env_bool(
    "MODULITH_EMBEDDED_RELAY", CELERY_TASK_ALWAYS_EAGER and not on_lambda()
)

# Observability. Logs are JSON lines (LOG_FORMAT=plain for a terminal) with the trace id, the
# module, the event and these business ids of the event or request (orderId -> order_id).
LOG_FORMAT = env_str("LOG_FORMAT", "json")
if LOG_FORMAT not in {"json", "plain"}:
    raise ConfigurationError(f"LOG_FORMAT must be json or plain, not {LOG_FORMAT!r}")
MODULITH_LOG_CORRELATION_FIELDS = ["orderId"]
# OpenTelemetry spans, when opentelemetry-sdk is installed (see modulith.observability.otel).
MODULITH_OTEL = env_bool(
    "MODULITH_OTEL",
    env_str("OTEL_TRACES_EXPORTER", "none") != "none"
    or bool(env_str("OTEL_EXPORTER_OTLP_ENDPOINT", "")),
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "modulith.observability.logs.ContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            # `timestamp` first (filled in by timestamp=True: ISO 8601, UTC), then the rest.
            "fmt": "%(timestamp)s %(levelname)s %(name)s %(message)s",
            "timestamp": True,
            "rename_fields": {
                "levelname": "level",
                "name": "logger",
                "modulith_module": "module",
            },
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "botocore": {"level": "WARNING"},
        "boto3": {"level": "WARNING"},
        # One line per request (modulith.http.middleware.AccessLogMiddleware), whatever LOG_LEVEL;
        # Django's own "Not Found: /path" warnings would repeat it (server errors still log).
        "modulith.http": {"level": "INFO"},
        "django.request": {"level": "ERROR"},
    },
}
