# syntax=docker/dockerfile:1
# continuum-cli: the `continuum` command, for one-shot jobs such as applying a pipeline spec
# (with modelkit and storage: `continuum export` loads the model as serving does).
# Build from the repository root:  docker build -f deploy/cli.Dockerfile -t continuum-cli .
#   docker compose run --rm apply-pipelines   (re-applies examples/pipelines/flights.yaml)

FROM python:3.11-slim-bookworm AS builder
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /bin/uv
ENV UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=python3.11 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src

COPY pyproject.toml uv.lock ./
COPY libs/contracts/pyproject.toml libs/contracts/
COPY libs/localkafka/pyproject.toml libs/localkafka/
COPY libs/modelkit/pyproject.toml libs/modelkit/
COPY libs/storage/pyproject.toml libs/storage/
COPY libs/registry-client/pyproject.toml libs/registry-client/
COPY libs/cli/pyproject.toml libs/cli/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-install-workspace --package continuum-cli --no-dev

COPY libs/contracts/ libs/contracts/
COPY libs/localkafka/ libs/localkafka/
COPY libs/modelkit/ libs/modelkit/
COPY libs/storage/ libs/storage/
COPY libs/registry-client/ libs/registry-client/
COPY libs/cli/ libs/cli/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --package continuum-cli --no-dev --no-editable

FROM python:3.11-slim-bookworm AS runtime
RUN groupadd --system --gid 10001 continuum \
    && useradd --system --uid 10001 --gid continuum --home-dir /var/lib/continuum \
        --create-home --shell /usr/sbin/nologin continuum
COPY --from=builder /app/.venv /app/.venv
ENV PATH="/app/.venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER continuum
WORKDIR /var/lib/continuum
ENTRYPOINT ["continuum"]
CMD ["--help"]
