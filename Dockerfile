# NAVAI's backend in a container: `navai serve` as a non-root user.
#
#   docker build -t navai .
#   docker run -p 8000:8000 -e OPENAI_API_KEY -e NAVAI_AUTH_TOKEN \
#     -v "$PWD/src/ai/functions-modules:/app/src/ai/functions-modules:ro" navai
#
# docs/operations.md explains each line.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The package, installed as root: the serving user can read it but not change it.
COPY pyproject.toml README.md ./
COPY navai_core ./navai_core
COPY navai_adapters ./navai_adapters
RUN pip install ".[server,metrics]" \
    && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin navai \
    && mkdir -p /app/src/ai/functions-modules

# Your functions: copy them in a derived image, or mount them read-only (see above).
# COPY src/ai/functions-modules ./src/ai/functions-modules

USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/navai/health', timeout=2)"]
# 0.0.0.0 inside the container; set NAVAI_AUTH_TOKEN or --authorize (a warning says so
# otherwise). --strict: a broken functions folder stops the container instead of
# serving without its tools.
CMD ["navai", "serve", "--host", "0.0.0.0", "--port", "8000", "--log-format", "json", "--no-access-log", "--strict"]
