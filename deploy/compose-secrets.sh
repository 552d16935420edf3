#!/bin/sh
# Generate the credentials docker-compose.yml reads, with random passwords and the write token
# (none has a default).
#   deploy/compose-secrets.sh            # writes deploy/compose/secrets/, refuses to overwrite
#   deploy/compose-secrets.sh --force    # new passwords (stores already initialised keep the old)
# Files (mode 600, git-ignored): squid.env for our services, rabbitmq.env for the broker,
# tidb-init.sql, which TiDB runs once at its first bootstrap to set root's password.
set -eu

dir="$(cd "$(dirname "$0")" && pwd)/compose/secrets"
if [ -e "$dir/squid.env" ] && [ "${1:-}" != "--force" ]; then
    echo "$dir/squid.env exists; pass --force to replace every password" >&2
    exit 1
fi

# 32 random bytes as 43 URL-safe characters: no quoting problem in an env file, SQL or a URL.
secret() {
    head -c 32 /dev/urandom | base64 | tr -d '\n=' | tr '+/' '-_'
}

umask 077
mkdir -p "$dir"
rabbitmq_password="$(secret)"
sql_password="$(secret)"
write_token="$(secret)"

cat > "$dir/squid.env" <<ENV
SQUID_RABBITMQ_USER=squidstream
SQUID_RABBITMQ_PASSWORD=$rabbitmq_password
SQUID_SQL_PASSWORD=$sql_password
# Games are accepted only with the header Authorization: Bearer <token> (gRPC: metadata);
# bound beyond loopback, the ingress and the gateways refuse to start without it.
SQUID_WRITE_TOKEN=$write_token
# Uncomment to guard the read API too (the dashboard then opens as /#token=<token>).
# SQUID_READ_TOKEN=$(secret)
ENV

cat > "$dir/rabbitmq.env" <<ENV
RABBITMQ_DEFAULT_USER=squidstream
RABBITMQ_DEFAULT_PASS=$rabbitmq_password
ENV

cat > "$dir/tidb-init.sql" <<SQL
ALTER USER 'root'@'%' IDENTIFIED BY '$sql_password';
SQL

echo "wrote squid.env, rabbitmq.env and tidb-init.sql in $dir"
