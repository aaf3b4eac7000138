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
#   lambda FN      an AWS Lambda function of the image (ImageConfig Command ["lambda", FN]):
#                  web, consume, relay or migrate (modulith.aws.lambdas), through the runtime
#                  interface client, which takes the invocations from the Lambda Runtime API
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
  worker)
    python manage.py check  # a bad configuration is one clear line here, not a traceback
    exec celery -A config worker --loglevel "${LOG_LEVEL:-INFO}" "$@"
    ;;
  beat)
    python manage.py check
    # Beat keeps its last run times in a file: on the writable /tmp, the root file system
    # being read-only where the image runs (a restart runs a due sweep once more: harmless).
    exec celery -A config beat --loglevel "${LOG_LEVEL:-INFO}" \
      --schedule "${CELERY_BEAT_SCHEDULE:-/tmp/celerybeat-schedule}" "$@"
    ;;
  relay) exec python manage.py relay "$@" ;;
  consume) exec python manage.py consume "$@" ;;
  migrate) exec python manage.py migrate_modules "$@" ;;
  manage) exec python manage.py "$@" ;;
  lambda)
    function="${1:-}"
    case "$function" in
      web | consume | relay | migrate) ;;
      *)
        echo "lambda runs one function: use lambda web, lambda consume, lambda relay or lambda migrate" >&2
        exit 64
        ;;
    esac
    if [ -z "${AWS_LAMBDA_RUNTIME_API:-}" ]; then
      echo "lambda $function runs inside AWS Lambda (which sets AWS_LAMBDA_RUNTIME_API);" \
        "elsewhere run the web, consume, relay or migrate role" >&2
      exit 64
    fi
    export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-config.settings}"
    # The runtime interface client sets no SIGTERM handler: as PID 1 (the image run by hand,
    # or by a runtime emulator) it would ignore the signal until killed. It runs as this
    # shell's child instead, and the shell passes SIGTERM on.
    python -m awslambdaric "modulith.aws.lambdas.$function.handler" &
    child=$!
    trap 'kill -TERM "$child" 2>/dev/null || true' TERM INT
    status=0
    wait "$child" || status=$?
    if kill -0 "$child" 2>/dev/null; then  # the trap ended the first wait: wait for the exit
      status=0
      wait "$child" || status=$?
    fi
    exit "$status"
    ;;
  *)
    echo "unknown role '$role': use web, worker, beat, relay, consume, migrate, manage or lambda" >&2
    exit 64
    ;;
esac
