# syntax=docker/dockerfile:1
# continuum-<service>: the image of any one of the five services, chosen by the required
# build argument SERVICE (ingest, trainer, registry, serving or monitor). From the
# repository root:
#   docker build -f deploy/service.Dockerfile --build-arg SERVICE=serving -t continuum-serving .
# docker-compose.yml builds each service this way (`build.args.SERVICE`).
#
# Only continuum-$SERVICE and what it depends on (per uv.lock) is installed: the builder
# copies the libraries a service may use and that service's folder (never another
# service's), and `uv sync --package` installs just its dependency closure (so serving's
# image has no Evidently, the ingest image no scikit-learn, and only ingest and serving
# have the online feature store's redis client).

# -- builder: a virtualenv with the locked dependencies, then the workspace code ----------
FROM python:3.11-slim-bookworm AS builder
ARG SERVICE
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /bin/uv
# System Python (the runtime image has the same one), compiled bytecode, real copies
# rather than links into the cache mount, and no editable installs of the workspace.
ENV UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=python3.11 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src

# 1. Third-party dependencies only: this layer is rebuilt only when uv.lock or one of
#    these manifests changes, not on every code change.
COPY pyproject.toml uv.lock ./
COPY libs/contracts/pyproject.toml libs/contracts/
COPY libs/featurestore/pyproject.toml libs/featurestore/
COPY libs/kafka/pyproject.toml libs/kafka/
COPY libs/modelkit/pyproject.toml libs/modelkit/
COPY libs/registry-client/pyproject.toml libs/registry-client/
COPY libs/runtime/pyproject.toml libs/runtime/
COPY libs/storage/pyproject.toml libs/storage/
COPY services/${SERVICE}/pyproject.toml services/${SERVICE}/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-install-workspace --package continuum-${SERVICE} --no-dev

# 2. The workspace packages themselves, installed as regular (non-editable) wheels. A
#    library the service does not depend on (modelkit for ingest, featurestore for the
#    trainer) is copied but not installed.
COPY libs/contracts/ libs/contracts/
COPY libs/featurestore/ libs/featurestore/
COPY libs/kafka/ libs/kafka/
COPY libs/modelkit/ libs/modelkit/
COPY libs/registry-client/ libs/registry-client/
COPY libs/runtime/ libs/runtime/
COPY libs/storage/ libs/storage/
COPY services/${SERVICE}/ services/${SERVICE}/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --package continuum-${SERVICE} --no-dev --no-editable

# -- runtime: the virtualenv and nothing else, run by an unprivileged user ---------------
FROM python:3.11-slim-bookworm AS runtime
ARG SERVICE
LABEL org.opencontainers.image.title="continuum-${SERVICE}"
# A fixed uid shared by every Continuum image, and the volume mount points created here
# so that fresh named volumes start out owned by that user.
RUN groupadd --system --gid 10001 continuum \
    && useradd --system --uid 10001 --gid continuum --home-dir /var/lib/continuum \
        --no-create-home --shell /usr/sbin/nologin continuum \
    && mkdir -p /var/lib/continuum/data /var/lib/continuum/artifacts /var/lib/continuum/state \
    && chown -R continuum:continuum /var/lib/continuum
COPY --from=builder /app/.venv /app/.venv
# SERVICE stays in the environment: CMD runs `python -m continuum.$SERVICE`.
ENV PATH="/app/.venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SERVICE=${SERVICE} \
    CONTINUUM_HTTP_HOST=0.0.0.0 \
    CONTINUUM_HTTP_PORT=8000
USER continuum
WORKDIR /var/lib/continuum
EXPOSE 8000
# No curl in slim images: the standard library asks /health (a 503 raises, so exit 1).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=6 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('CONTINUUM_HTTP_PORT', '8000') + '/health', timeout=4)"]
# The shell only picks the module; `exec` makes Python the container's main process, so
# it receives `docker stop`'s SIGTERM itself.
CMD ["/bin/sh", "-c", "exec python -m \"continuum.${SERVICE}\""]
