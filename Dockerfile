# One image for every role: `web` (default), `worker`, `scheduler`, or any other tillbridge command.
# Run `tillbridge db upgrade` once per release (e.g. as a one-off container) before the roles start.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    DATA_DIR=/var/lib/tillbridge WEB_HOST=0.0.0.0 WEB_PORT=8000 \
    RULES_DIR=/app/rules MODELS_DIR=/app/models AUTO_MIGRATE=0

RUN apt-get update \
 && apt-get install -y --no-install-recommends curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 tillbridge \
 && mkdir -p /var/lib/tillbridge && chown tillbridge /var/lib/tillbridge

WORKDIR /app
# The pinned, hash-checked dependencies first (a layer that changes only with the lock file).
COPY requirements/production.txt ./requirements/production.txt
RUN pip install --require-hashes -r requirements/production.txt
COPY pyproject.toml README.md ./
COPY service ./service
COPY training ./training
COPY rules ./rules
COPY models ./models
RUN pip install --no-deps .

USER tillbridge
EXPOSE 8000
# Every role needs Redis and the database; the web role also answers on /healthz.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
  CMD tillbridge health || exit 1
ENTRYPOINT ["tillbridge"]
CMD ["web"]
