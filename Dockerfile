# One image for every squidstream service; the compose file picks the subcommand.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY squidstream squidstream
COPY proto proto
COPY gateways gateways
COPY streams streams
COPY views views
COPY loadtest loadtest
COPY stack stack
RUN pip install --no-cache-dir '.[rocksdb]'
ENTRYPOINT ["squidstream"]
