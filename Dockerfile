# One image for every role of the modulith (web, worker, beat, relay, consume, migrate, manage,
# and lambda: the same image as an AWS Lambda function) and any set of modules: what a
# container does is chosen by its command and its environment.
#
#   docker build -t modulith .
#   docker run -p 8000:8000 -e DJANGO_DEBUG=1 modulith   # tried out: development, plain HTTP
#   docker run -p 8000:8000 -e DJANGO_DEBUG=1 -e MODULITH_LOAD_DEMO_CATALOGUE=1 modulith
#   docker run modulith worker                # any other role of deploy/entrypoint.sh
#
# On AWS Lambda the function's command picks the handler (ImageConfig Command ["lambda", "web"],
# "consume" or "relay"; deploy/lambda/ holds the stacks). Lambda runs the image as a user of its
# own on a read-only file system but /tmp: the stacks give every database as a URL.
#
# The image runs with DEBUG off (DJANGO_DEBUG is never set here): the settings refuse to start
# without DJANGO_SECRET_KEY (a long random secret) and MODULITH_API_KEYS (its own keys), and
# serve HTTPS behind a TLS-terminating load balancer (README.md: "What a deployment's
# environment says"). DJANGO_DEBUG=1 tries it out on the embedded defaults (the development
# secret key and API key, SQLite files under /app/var, the in-process bus, plain HTTP).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    MODULITH_VAR_DIR=/app/var

# The application runs as an unprivileged user; its home holds gunicorn's control socket.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app \
        --shell /usr/sbin/nologin app

# The settings find manage.py and var/ relative to the source tree, so the code runs from /app.
# Editable installs of the framework (platform/, the `modulith` distribution) and of the shop,
# in one pip call so that the shop's `modulith` is this one, put their dependencies and packages
# on the path while keeping /app the only copy of the code.
WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir -e /app/platform -e /app

# Static files are collected at build time into /app/staticfiles (STATIC_ROOT, apart from the
# data in /app/var) and served by whitenoise. The settings load with DEBUG off only with a secret key and API keys of
# their own: these placeholders exist for this step alone and are not in the image's environment.
RUN DJANGO_DEBUG=0 \
    DJANGO_SECRET_KEY=placeholder-for-collectstatic-at-build-time \
    MODULITH_API_KEYS=placeholder-for-collectstatic-at-build-time \
    python manage.py collectstatic --noinput \
    && mkdir -p /app/var && chown -R app:app /app/var

# Numeric, so that orchestrators can check that the user is not root (runAsNonRoot).
USER 10001:10001
EXPOSE 8000

# Liveness of the web role, on the port of BIND (default 0.0.0.0:8000). Other roles serve no
# HTTP: run them with --no-healthcheck (compose: `healthcheck: {disable: true}`). ECS and
# Kubernetes ignore this instruction and use their own health checks.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; port = os.environ.get('BIND', ':8000').rpartition(':')[2]; urllib.request.urlopen(f'http://127.0.0.1:{port}/health/live', timeout=4)"]

ENTRYPOINT ["/app/deploy/entrypoint.sh"]
CMD ["web"]
