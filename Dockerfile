# syntax=docker/dockerfile:1
# feed-monitor as a container image.
#
#   docker build -t feed-monitor .
#   docker run --rm -p 127.0.0.1:9464:9464 -v feed-monitor-data:/data feed-monitor
#
# With nothing mounted it runs the embedded default (a few world-news feeds, the example rules,
# alerts on the console) on SQLite in the /data volume. Your own configuration:
#
#   docker run -v "$PWD/monitor.yaml:/config/monitor.yaml:ro" -v "$PWD/rules:/config/rules:ro" \
#              -e MONITOR_CONFIG=/config/monitor.yaml -v feed-monitor-data:/data feed-monitor
#
# `rules:` paths in monitor.yaml are relative to its folder (here /config). The shipped example
# rules and actor dictionaries are at /usr/share/feed-monitor/rules (e.g. `rules:
# [/usr/share/feed-monitor/rules/actors/, rules/]`). Other commands: `docker run … feed-monitor
# check`, `docker exec <container> monitor feeds`. Settings are MONITOR_* variables (README.md).

ARG PYTHON_IMAGE=python:3.11-slim

# ---- builder: a wheel of this repository, installed with its dependencies into /opt/venv ----
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
# Only what the package is built from (monitor/default_rules is a link to rules/).
COPY pyproject.toml README.md ./
COPY monitor/ monitor/
COPY rules/ rules/
RUN --mount=type=cache,target=/root/.cache/pip \
    python -m pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv --without-pip /opt/venv \
 && python -m pip --python /opt/venv/bin/python install "$(ls /wheels/feed_monitor-*.whl)[postgres]"
# Fail the build, not the first start, if the package data (rules, templates, migrations) is
# missing: the embedded default needs all of it.
RUN /opt/venv/bin/monitor --version && /opt/venv/bin/monitor check

# ---- runtime: the venv on a clean slim image, as an unprivileged user ----
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="feed-monitor" \
      org.opencontainers.image.description="Feed-monitoring and alerting daemon" \
      org.opencontainers.image.licenses="MIT"
RUN groupadd --system --gid 10001 monitor \
 && useradd --system --uid 10001 --gid monitor --home-dir /data --no-create-home \
            --shell /usr/sbin/nologin monitor \
 && install -d -o 10001 -g 10001 -m 0750 /data \
 && install -d -m 0755 /config /usr/share/feed-monitor
COPY --from=builder /opt/venv /opt/venv
# The packaged example rules at a path that does not depend on the Python version.
RUN ln -s "$(/opt/venv/bin/python -c \
        'from monitor.config.defaults import default_rules_dir; print(default_rules_dir())')" \
        /usr/share/feed-monitor/rules \
 && test -f /usr/share/feed-monitor/rules/actors/countries.yaml

# The status server listens on every interface of the container: /healthz, /readyz and /metrics
# are open, /api/* answers 403 until MONITOR_STATUS_TOKEN is set (-e MONITOR_STATUS_TOKEN=...),
# then needs "Authorization: Bearer <token>".
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MONITOR_DATABASE_URL=sqlite+aiosqlite:////data/monitor.db \
    MONITOR_STATUS_ADDR=0.0.0.0:9464
WORKDIR /data
VOLUME /data
USER 10001:10001
EXPOSE 9464
# The daemon finishes in-flight work within MONITOR_SHUTDOWN_GRACE (20 s) after SIGTERM: give
# it more than that (`docker stop -t 30`, compose `stop_grace_period: 30s`).
STOPSIGNAL SIGTERM
# No curl in the slim image: ask /healthz with Python, on the port of MONITOR_STATUS_ADDR
# (a wildcard host is asked on loopback). Any error or non-2xx answer exits 1: unhealthy.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; h, _, p = (os.environ.get('MONITOR_STATUS_ADDR') or '0.0.0.0:9464').rpartition(':'); h = {'0.0.0.0': '127.0.0.1', '': '127.0.0.1', '[::]': '[::1]'}.get(h, h); u.urlopen(f'http://{h}:{p}/healthz', timeout=3)"]
ENTRYPOINT ["monitor"]
CMD ["run"]
