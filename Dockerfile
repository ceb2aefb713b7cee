# The iwmo-hub image: the API (`iwmo-hub serve`) and the projector (`iwmo-hub project --follow`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY hub ./hub
COPY adapters ./adapters
COPY projections ./projections
COPY replay ./replay
COPY schemas ./schemas
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /data hub \
    && mkdir -p /data \
    && chown hub /data

USER hub
WORKDIR /data
VOLUME ["/data"]
# The embedded store by default; docker-compose.yml points it at Kafka.
ENV IWMO_HUB_STORE=sqlite:/data/events.db \
    IWMO_HUB_PROJECTIONS=/data/projections.db \
    IWMO_HUB_TOKENS=/config/tokens.json
EXPOSE 8000
CMD ["iwmo-hub", "serve", "--host", "0.0.0.0", "--port", "8000"]
