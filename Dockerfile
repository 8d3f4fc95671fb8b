# Weekly Wrapped: one image for `wrapped serve`, `wrapped init`, the stream job
# (spark-submit) and the Spark worker that runs its tasks. deploy/docker-compose.yml
# builds it; docs/operations.md explains the stack.
#
#   docker build -t weekly-wrapped .

# --- the Kafka source's jars for Spark, from Maven Central (infra/jvm/spark) -------------------
FROM maven:3.9-eclipse-temurin-17 AS jars
WORKDIR /build
COPY infra/jvm ./infra/jvm
RUN mvn -q -B -f infra/jvm/pom.xml -pl spark dependency:copy-dependencies

# --- the package and its pinned dependencies, in a virtualenv ----------------------------------
FROM python:3.11-slim-bookworm AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
WORKDIR /build
COPY pyproject.toml requirements.lock README.md ./
COPY src ./src
# Every version comes from the lock file; the extras are what the stack runs.
RUN /opt/venv/bin/pip install --no-cache-dir -c requirements.lock \
        ".[postgres,kafka,spark,llm,web]"

# --- the runtime: Python, a Java runtime for Spark, no build tools -----------------------------
FROM python:3.11-slim-bookworm
# Debian's security updates for the JRE land on rebuild, so its version is left to the
# bookworm archive rather than pinned.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless procps \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 wrapped \
    && useradd --system --uid 10001 --gid wrapped --home-dir /var/lib/wrapped \
        --shell /usr/sbin/nologin wrapped \
    && mkdir -p /var/lib/wrapped /var/lib/wrapped-spark \
    && chown wrapped:wrapped /var/lib/wrapped /var/lib/wrapped-spark

COPY --from=builder /opt/venv /opt/venv
COPY --from=jars /build/infra/jvm/spark/target/lib /opt/wrapped/jars
COPY deploy/spark/submit-stream /usr/local/bin/wrapped-stream

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYSPARK_PYTHON=/opt/venv/bin/python \
    WRAPPED_DATA_DIR=/var/lib/wrapped \
    WRAPPED_SPARK_JARS=/opt/wrapped/jars \
    WRAPPED_SPARK_CHECKPOINT=/var/lib/wrapped-spark/checkpoint

# Numeric, so that Kubernetes can check runAsNonRoot without reading /etc/passwd.
USER 10001:10001
WORKDIR /var/lib/wrapped
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["wrapped", "serve", "--host", "0.0.0.0", "--port", "8000"]
