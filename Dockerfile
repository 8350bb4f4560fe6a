# Threadcount's image: the service (python run.py) and, on a Ray cluster, every Ray node (README:
# Running on a cluster). Build from the repository root:  docker build -t threadcount:0.1.0 .
# tests/unit/test_deployment_files.py checks this file (no container daemon runs it in CI).

# The dashboard's front-end packages (htmx.org, htmx-ext-sse, chart.js), exactly as package-lock.json
# pins them; only node_modules/ goes on to the image, not node itself.
FROM node:22-slim AS frontend
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# The dependencies first, from pyproject.toml alone, so a change of code does not reinstall Ray.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY inventory/ inventory/
COPY actors/ actors/
COPY sync/ sync/
COPY connectors/ connectors/
COPY simulators/ simulators/
COPY store/ store/
COPY service/ service/
COPY web/ web/
COPY run.py config.yaml ./
# Installed in place (-e): the web app serves its templates, static files and ../node_modules from
# beside its code, which a plain `pip install .` would leave behind; every process on every node,
# the Ray workers that host the actors included, imports this one copy.
RUN pip install --no-deps -e .
COPY --from=frontend /src/node_modules/ node_modules/

# Not root: the service and Ray run as this user; /data (THREADCOUNT_DATA_DIR: logs, generated
# secrets, the SQLite file when no PostgreSQL is given) is the only place it writes besides /tmp.
RUN useradd --uid 10001 --create-home --shell /usr/sbin/nologin threadcount \
    && mkdir -p /data && chown threadcount:threadcount /data && chmod 700 /data
USER 10001

# A container is reached from outside it: both ports bind every interface here (the service's own
# default is loopback). 8000: dashboard and REST API; 8001: partner webhooks.
ENV THREADCOUNT_WEB_HOST=0.0.0.0 \
    THREADCOUNT_INGRESS_HOST=0.0.0.0 \
    THREADCOUNT_DATA_DIR=/data
EXPOSE 8000 8001
CMD ["python", "run.py"]
