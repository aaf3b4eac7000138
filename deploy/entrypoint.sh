#!/bin/sh
# One entrypoint for every role of the one image:
#   web (default)  migrate the databases of the modules that run here (unless
#                  MODULITH_MIGRATE_ON_START=0: with several web tasks, run `migrate` once
#                  as a one-off task instead), then serve with gunicorn (no access log of
#                  its own: every request leaves one JSON line on the modulith.http logger)
#   worker | beat  Celery worker / scheduler (the periodic outbox sweep)
#   relay          deliver committed but undelivered events, in a loop
#   migrate        migrate and exit
#   manage ARGS    any manage.py command
set -eu
cd "$(dirname "$0")/.."
role="${1:-web}"
[ "$#" -gt 0 ] && shift

case "$role" in
  web)
    if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
      # The workers' metrics files: emptied at start, or counters from a previous run add up.
      rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    fi
    if [ "${MODULITH_MIGRATE_ON_START:-1}" = "1" ]; then
      python manage.py migrate_modules
    fi
    if [ "${MODULITH_LOAD_DEMO_CATALOGUE:-0}" = "1" ]; then
      python manage.py load_catalogue
    fi
    exec gunicorn config.wsgi:application \
      --bind "${BIND:-0.0.0.0:8000}" \
      --workers "${WEB_CONCURRENCY:-2}" \
      --timeout "${WEB_TIMEOUT:-30}" "$@"
    ;;
  worker | beat)
    python manage.py check  # a bad configuration is one clear line here, not a traceback
    exec celery -A config "$role" --loglevel "${LOG_LEVEL:-INFO}" "$@"
    ;;
  relay) exec python manage.py relay "$@" ;;
  consume) exec python manage.py consume "$@" ;;
  migrate) exec python manage.py migrate_modules "$@" ;;
  manage) exec python manage.py "$@" ;;
  *)
    echo "unknown role '$role': use web, worker, beat, relay, consume, migrate or manage" >&2
    exit 64
    ;;
esac
