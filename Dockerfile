# One image for every squidstream service; the compose file and deploy/k8s pick the subcommand.
# Versions are pinned to what the tests run: Python 3.11.7, Node 20.20.2 (the dashboard's npm ci),
# and every Python package at the version constraints.txt names.

# The dashboard's chart library, from views/package-lock.json.
FROM node:20.20.2-bookworm-slim AS assets
WORKDIR /views
COPY views/package.json views/package-lock.json ./
RUN npm ci --no-audit --no-fund --omit=dev

FROM python:3.11.7-slim-bookworm
WORKDIR /src
COPY constraints.txt pyproject.toml README.md ./
COPY squidstream squidstream
COPY squidshell squidshell
COPY gateways gateways
COPY streams streams
COPY views views
COPY loadtest loadtest
COPY stack stack
# The `load` extra brings Locust for the compose file's flood profile.
RUN pip install --no-cache-dir -c constraints.txt '.[rocksdb,load]'
# views/routes/dashboard.py serves node_modules beside the installed views package.
COPY --from=assets /views/node_modules /usr/local/lib/python3.11/site-packages/views/node_modules
# Run as an unprivileged user from a folder without sources (Faust keeps its rocksdb tables here).
# A numeric USER lets Kubernetes check runAsNonRoot (deploy/k8s sets runAsUser to the same id).
RUN useradd --system --uid 10001 --create-home --home-dir /srv/squidstream squid
USER 10001
WORKDIR /srv/squidstream
ENTRYPOINT ["squidstream"]
