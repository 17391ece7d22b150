# syntax=docker/dockerfile:1

# Build stage: make the wheel and install it, with its runtime dependencies only, into /venv.
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY todo_api ./todo_api
COPY sql ./sql
COPY migrations ./migrations
RUN python -m venv /venv \
    && python -m pip wheel --no-deps --wheel-dir /wheels . \
    && /venv/bin/pip install /wheels/*.whl

# Final stage: the slim base, the virtual environment, a non-root user. No compiler, no pip
# cache, no tests, no embedded PostgreSQL.
FROM python:3.11-slim-bookworm
ENV PATH=/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LOG_FORMAT=json \
    TODO_DATA_DIR=/tmp/todo-data
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin todo
COPY --from=build /venv /venv
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), timeout=4)"]
CMD ["todo-api", "serve"]
