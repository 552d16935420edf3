"""One typed settings object for every process; every environment name is declared here.

gateways/, streams/ and views/ never import each other: they meet only through proto/ and
this module. Values come from `SQUID_*` environment variables with loopback defaults, and a
bad value fails at start with a message naming the variable.
"""

from __future__ import annotations

import re
import socket
import ssl
from functools import lru_cache
from pathlib import Path
from typing import Annotated, ClassVar, Literal, TypedDict
from urllib.parse import quote, urlencode

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from squidstream.contract import (
    EVENT_MAX_BYTES,
    PLAYERS_MAX,
    REQUEST_ID_MAX_CHARS,
    gateway_id_problem,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
Port = Annotated[int, Field(ge=1, le=65535)]
_KAFKA_NAME = (
    re.compile(r"[A-Za-z0-9._-]{1,200}"),
    "1..200 of letters, digits, . _ - (Kafka's topic characters, room for suffixes)",
)
# Each name's rule: SQL identifiers are used quoted, yet kept to what needs no quoting; a
# Redis prefix reaches SCAN MATCH globs, so no glob characters (* ? [ ] \) and no `:`
# (our key separator, which would let one prefix reach into another's keys).
NAME_RULES: dict[str, tuple[re.Pattern[str], str]] = {
    "sql_database": (re.compile(r"[A-Za-z0-9_]{1,64}"), "1..64 of letters, digits and _"),
    "mongo_database": (
        re.compile(r"[A-Za-z0-9_-]{1,63}"),
        "1..63 of letters, digits, _ and -",
    ),
    "mongo_collection": (
        re.compile(r"(?!system\.)[A-Za-z0-9_][A-Za-z0-9_.-]{0,119}"),
        "1..120 of letters, digits, _ . -, starting with a letter, digit or _, not system.",
    ),
    "redis_prefix": (
        re.compile(r"[A-Za-z0-9_.-]{1,100}"),
        "1..100 of letters, digits, _ . - (no glob characters, no :)",
    ),
    "events_topic": _KAFKA_NAME,
    "dead_letter_topic": _KAFKA_NAME,
    "faust_app_id": _KAFKA_NAME,
}
TOKEN_MIN_CHARS = 16
REPLY_RESULT_OVERHEAD_BYTES = 1024
TOKEN_CHARS = re.compile(r"[!-~]+")


class RedisConnectionOptions(TypedDict):
    """redis-py keyword arguments for credentials and TLS."""

    username: str | None
    password: str | None
    ssl: bool
    ssl_ca_certs: str | None


KafkaSecurityProtocol = Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"]
KafkaSaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
KAFKA_SASL_PROTOCOLS = ("SASL_PLAINTEXT", "SASL_SSL")
KAFKA_TLS_PROTOCOLS = ("SASL_SSL", "SSL")


class SettingsError(ValueError):
    """A setting from the environment has a value we cannot use."""


class Settings(BaseSettings):
    """Addresses, names and credentials, from `SQUID_<FIELD>` environment variables."""

    model_config = SettingsConfigDict(env_prefix="SQUID_", frozen=True, extra="ignore")

    # Where the local stack keeps its data, logs and pid files.
    data_dir: Path = PROJECT_ROOT / ".stack"

    # Kafka (KRaft combined mode locally).
    kafka_host: str = "127.0.0.1"
    kafka_port: Port = 9092
    kafka_controller_port: Port = 9093
    events_topic: str = "game-events"
    events_partitions: int = Field(4, ge=1, le=1024)
    dead_letter_topic: str = "game-events-dlq"
    # Brokers of the local stack (KRaft). One broker listens on kafka_port (controller on
    # kafka_controller_port). A cluster of N > 1 never uses those two: broker i (1..N)
    # listens on kafka_port + 100*i and its controller on kafka_controller_port + 100*i
    # (9192/9193, 9292/9293, 9392/9393 for three), so a cluster and a single broker with
    # the same settings can run side by side.
    kafka_brokers: int = Field(1, ge=1, le=5)
    KAFKA_CLUSTER_PORT_STEP: ClassVar[int] = 100
    # Topics squidstream.topics creates (the events topic among them) get this replication
    # factor and min.insync.replicas; a factor above the broker count is refused there.
    events_replication_factor: int = Field(1, ge=1, le=5)
    events_min_insync_replicas: int = Field(1, ge=1, le=5)
    # Credentials and TLS of every Kafka client (squidstream.kafka_auth): none (PLAINTEXT),
    # SASL over TCP or TLS, or TLS alone; TLS trusts tls_ca_file. SASL needs both a user and
    # a password, and only SASL takes them. The local stack runs SASL_PLAINTEXT with PLAIN.
    kafka_security_protocol: KafkaSecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: KafkaSaslMechanism = "PLAIN"
    kafka_username: str = ""
    kafka_password: SecretStr | None = None

    # RabbitMQ.
    rabbitmq_host: str = "127.0.0.1"
    rabbitmq_port: Port = 5672
    rabbitmq_dist_port: Port = 25672
    rabbitmq_user: str = "guest"
    rabbitmq_password: SecretStr = SecretStr("guest")
    rabbitmq_vhost: str = "/"
    rabbitmq_queue: str = "game-events"
    rabbitmq_dead_letter_queue: str = "game-events-dlq"
    rabbitmq_tls: bool = False  # amqps:// (the TLS port is usually 5671)

    # Redis.
    redis_host: str = "127.0.0.1"
    redis_port: Port = 6379
    redis_db: int = Field(0, ge=0, le=15)
    redis_prefix: str = "squid"
    # ACL user (empty: the default user) and password (unset: none); rediss:// with TLS.
    redis_username: str = ""
    redis_password: SecretStr | None = None
    redis_tls: bool = False

    # SQL: MariaDB locally, TiDB in production (MySQL protocol either way).
    sql_host: str = "127.0.0.1"
    sql_port: Port = 3306
    sql_user: str = "root"
    sql_password: SecretStr = SecretStr("")
    sql_database: str = "squidstream"
    sql_server: str = Field("mariadb", pattern="^(mariadb|tidb)$")
    sql_tls: bool = False

    # MongoDB wire protocol: FerretDB locally, MongoDB in production.
    mongo_host: str = "127.0.0.1"
    mongo_port: Port = 27017
    mongo_database: str = "squidstream"
    mongo_collection: str = "audit_log"
    # Credentials (empty user: none) checked against mongo_auth_source; TLS on request.
    mongo_user: str = ""
    mongo_password: SecretStr | None = None
    mongo_auth_source: str = "admin"
    mongo_tls: bool = False
    # Where the local stack's FerretDB keeps its data: SQLite files, or the stack's own
    # PostgreSQL (a sixth server, on postgres_port). See stack/servers/postgresql.py.
    mongo_backend: str = Field("sqlite", pattern="^(sqlite|postgresql)$")
    postgres_port: Port = 5432

    # The CA bundle our clients trust for every TLS connection to a broker or store above
    # (and to the gateways, see below). Unset: the system's CAs.
    tls_ca_file: Path | None = None

    # gRPC gateways, one process per route.
    gateway_host: str = "127.0.0.1"
    gateway_kafka_port: Port = 50051
    gateway_rabbitmq_port: Port = 50052
    # Each gateway's Prometheus `/metrics`, on an HTTP port of its own (on gateway_host).
    gateway_kafka_metrics_port: Port = 50061
    gateway_rabbitmq_metrics_port: Port = 50062
    gateway_id: str = ""
    max_players: int = Field(1000, ge=1, le=PLAYERS_MAX)
    broker_timeout_s: float = Field(5.0, gt=0, le=300)
    # Where the ingress finds each gateway ("host:port"); empty means gateway_host and its port.
    gateway_kafka_address: str = ""
    gateway_rabbitmq_address: str = ""
    # Limits of one gateway call: more requests get INVALID_ARGUMENT naming `requests`; a
    # bigger message is refused by the transport itself (RESOURCE_EXHAUSTED), unread.
    gateway_max_batch: int = Field(10_000, ge=1, le=1_000_000)
    gateway_max_message_bytes: int = Field(4 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    # Transport limits of each gateway (docs/security.md): calls in flight beyond this get
    # RESOURCE_EXHAUSTED; a call (a whole stream included) lasts at most the deadline, then
    # DEADLINE_EXCEEDED; a client pinging more often than the interval is disconnected.
    gateway_max_concurrent_rpcs: int = Field(1000, ge=1, le=100_000)
    gateway_call_deadline_s: float = Field(60.0, gt=0, le=3600)
    gateway_keepalive_s: float = Field(60.0, ge=1, le=7200)
    gateway_min_ping_interval_s: float = Field(10.0, ge=1, le=3600)
    gateway_max_connection_idle_s: float = Field(300.0, ge=1, le=86_400)
    # Retries of a request id get the first answer within this horizon (reservations expire
    # after it); a reservation whose publish is still unconfirmed blocks retries this long.
    retry_horizon_s: float = Field(86_400.0, ge=1, le=30 * 86_400)
    reservation_lease_s: float = Field(30.0, ge=1, le=3600)
    # The ingress coalesces concurrent requests per route into one PlayStream batch.
    ingress_batch_window_ms: float = Field(2.0, ge=0, le=1000)
    ingress_batch_max: int = Field(500, ge=1, le=100_000)

    # HTTP ingress: weights of the two routes (need not sum to 100, not both zero).
    ingress_host: str = "127.0.0.1"
    ingress_port: Port = 8080
    route_weight_kafka: int = Field(50, ge=0)
    route_weight_rabbitmq: int = Field(50, ge=0)
    # A game request's JSON is well under 2 KiB; bigger bodies get 413 unread. Requests in
    # flight beyond the cap get 503 at once (load shedding) instead of queueing without end.
    ingress_max_body_bytes: int = Field(16 * 1024, ge=256, le=1024 * 1024)
    ingress_max_in_flight: int = Field(2000, ge=1, le=1_000_000)

    # Faust workers.
    faust_app_id: str = "squidstream"
    # The host name other processes reach a worker's web server at (announced to the views;
    # empty or a wildcard address: this machine's fully qualified name). It listens on
    # faust_web_bind, or on faust_web_host when that is empty.
    faust_web_host: str = "127.0.0.1"
    faust_web_bind: str = ""
    faust_web_port: Port = 6066
    faust_store: str = Field("memory://", pattern="^(memory://|rocksdb://.*)$")
    batch_size: int = Field(1000, ge=1, le=100_000)
    batch_timeout_s: float = Field(0.2, gt=0, le=60)
    # How long a silent (killed) worker keeps its partitions before the group moves them.
    consumer_session_timeout_s: float = Field(10.0, ge=3, le=300)
    # Static group membership: a worker restarted under the same id gets its partitions
    # back at once instead of waiting out the session timeout. Empty: host and web port.
    worker_instance_id: str = ""
    # Every call to a store (SQL, Redis, MongoDB) gives up after this long and is retried.
    store_timeout_s: float = Field(10.0, gt=0, le=300)
    # A worker with lag that has committed nothing for this long exits non-zero.
    stall_timeout_s: float = Field(120.0, ge=5, le=86_400)

    # Read API and dashboard.
    views_host: str = "127.0.0.1"
    views_port: Port = 8000
    # Open live feeds (server-sent events) per views process; one more gets 503.
    views_live_max_subscribers: int = Field(200, ge=1, le=100_000)

    # TLS of this process's own listener (a gateway, the ingress or the views): a PEM
    # certificate (chain) and its key, both or neither. The ingress reaches the gateways over
    # TLS when gateway_tls is set, trusting tls_ca_file (or the system's CAs).
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    gateway_tls: bool = False

    # Bearer tokens (squidstream.auth). The write token guards the ingress and the gateways,
    # which refuse a non-loopback bind without one; the read token, if set, guards the read
    # API. Unset or empty: no token asked.
    write_token: SecretStr | None = None
    read_token: SecretStr | None = None

    @field_validator("gateway_id")
    @classmethod
    def _valid_gateway_id(cls, value: str) -> str:
        problem = gateway_id_problem(value) if value else None
        if problem is not None:
            raise ValueError(problem.reason)
        return value

    @field_validator("write_token", "read_token", mode="before")
    @classmethod
    def _empty_token_is_none(cls, value: object) -> object:
        if value is None or (isinstance(value, str | SecretStr) and not _secret_text(value)):
            return None
        return value

    @field_validator("write_token", "read_token")
    @classmethod
    def _valid_token(cls, value: SecretStr | None) -> SecretStr | None:
        text = "" if value is None else value.get_secret_value()
        if value is not None and (len(text) < TOKEN_MIN_CHARS or not TOKEN_CHARS.fullmatch(text)):
            raise ValueError(
                f"a token needs at least {TOKEN_MIN_CHARS} characters of visible ASCII "
                "(no spaces), e.g. `python -c 'import secrets; print(secrets.token_urlsafe())'`"
            )
        return value

    @field_validator("kafka_security_protocol", "kafka_sasl_mechanism", mode="before")
    @classmethod
    def _upper_case(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("redis_password", "mongo_password", "kafka_password", mode="before")
    @classmethod
    def _empty_password_is_none(cls, value: object) -> object:
        if isinstance(value, str | SecretStr) and not _secret_text(value):
            return None
        return value

    @field_validator("events_topic", "dead_letter_topic", "rabbitmq_queue", "redis_prefix")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator(*NAME_RULES)
    @classmethod
    def _safe_name(cls, value: str, info: ValidationInfo) -> str:
        """Names that reach a query, a key glob, a URL or a topic follow their rule."""
        pattern, rule = NAME_RULES[str(info.field_name)]
        if value.strip() and not pattern.fullmatch(value):
            raise ValueError(f"{value!r} is not a safe name: {rule}")
        return value

    @field_validator("rabbitmq_queue", "rabbitmq_dead_letter_queue")
    @classmethod
    def _queue_name(cls, value: str) -> str:
        if len(value.encode()) > 255 or value.startswith("amq."):
            raise ValueError("a queue name has at most 255 bytes and does not start with amq.")
        return value

    @model_validator(mode="after")
    def _cert_with_key(self) -> Settings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("SQUID_TLS_CERT_FILE and SQUID_TLS_KEY_FILE go together: set both")
        for path in (self.tls_cert_file, self.tls_key_file, self.tls_ca_file):
            if path is not None and not path.is_file():
                raise ValueError(f"TLS file {path} does not exist or is not a file")
        return self

    @model_validator(mode="after")
    def _deadline_outlasts_a_retry(self) -> Settings:
        if self.gateway_call_deadline_s <= self.ingress_call_timeout_s:
            raise ValueError(
                f"SQUID_GATEWAY_CALL_DEADLINE_S={self.gateway_call_deadline_s:g} must exceed the"
                f" ingress's call timeout ({self.ingress_call_timeout_s:g} s: twice"
                " SQUID_BROKER_TIMEOUT_S plus 1), or a gateway would cut off a retry the ingress"
                " still waits for"
            )
        return self

    @model_validator(mode="after")
    def _kafka_auth_consistent(self) -> Settings:
        protocol = self.kafka_security_protocol
        sasl = protocol in KAFKA_SASL_PROTOCOLS
        has_user, has_password = bool(self.kafka_username), self.kafka_password is not None
        if sasl and not (has_user and has_password):
            raise ValueError(
                f"SQUID_KAFKA_SECURITY_PROTOCOL={protocol} needs SQUID_KAFKA_USERNAME and"
                " SQUID_KAFKA_PASSWORD: set both"
            )
        if not sasl and (has_user or has_password):
            raise ValueError(
                "SQUID_KAFKA_USERNAME and SQUID_KAFKA_PASSWORD are for SASL only: set"
                f" SQUID_KAFKA_SECURITY_PROTOCOL to SASL_PLAINTEXT or SASL_SSL (not {protocol})"
            )
        if not sasl and self.kafka_sasl_mechanism != "PLAIN":
            raise ValueError(
                f"SQUID_KAFKA_SASL_MECHANISM={self.kafka_sasl_mechanism} needs"
                f" SQUID_KAFKA_SECURITY_PROTOCOL SASL_PLAINTEXT or SASL_SSL (not {protocol})"
            )
        return self

    def as_env(self) -> dict[str, str]:
        """Every setting as the SQUID_* variables that give a child process these settings."""
        env = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None:
                continue  # unset stays unset in the child (str(None) would be a value)
            text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
            env[f"SQUID_{name.upper()}"] = text
        return env

    @property
    def ingress_call_timeout_s(self) -> float:
        """How long the ingress waits for a gateway's answer: a gateway may wait a broker
        timeout on a pending retry, then publish for another, so the timeout covers both."""
        return 2 * self.broker_timeout_s + 1.0

    @property
    def kafka_bootstrap(self) -> str:
        """Every broker of the local layout (see kafka_brokers), comma-separated."""
        if self.kafka_brokers == 1:
            return f"{self.kafka_host}:{self.kafka_port}"
        step = self.KAFKA_CLUSTER_PORT_STEP
        ports = (self.kafka_port + step * node for node in range(1, self.kafka_brokers + 1))
        return ",".join(f"{self.kafka_host}:{port}" for port in ports)

    @property
    def rabbitmq_url(self) -> str:
        """The AMQP URL; user, password and vhost percent-encoded (a `/` or `#` is data)."""
        scheme = "amqps" if self.rabbitmq_tls else "amqp"
        userinfo = _userinfo(self.rabbitmq_user, self.rabbitmq_password)
        query = {"cafile": str(self.tls_ca_file)} if self.rabbitmq_tls and self.tls_ca_file else {}
        address = f"{_host(self.rabbitmq_host)}:{self.rabbitmq_port}"
        return f"{scheme}://{userinfo}{address}/{_part(self.rabbitmq_vhost)}{_query(query)}"

    @property
    def gateway_max_reply_bytes(self) -> int:
        """The largest reply a gateway sends: a full batch of results at the contract's limits.

        Each result carries its request id, the event (at most EVENT_MAX_BYTES) and at most
        an error of similar size; REPLY_RESULT_OVERHEAD_BYTES covers framing and the error.
        """
        per_result = EVENT_MAX_BYTES + 4 * REQUEST_ID_MAX_CHARS + REPLY_RESULT_OVERHEAD_BYTES
        return max(self.gateway_max_message_bytes, self.gateway_max_batch * per_result)

    @property
    def faust_advertised_host(self) -> str:
        """The worker's host as others reach it (never a wildcard such as 0.0.0.0)."""
        if self.faust_web_host in ("", "0.0.0.0", "::"):
            return socket.getfqdn()
        return self.faust_web_host

    @property
    def faust_bind_host(self) -> str:
        return self.faust_web_bind or self.faust_web_host or "127.0.0.1"

    @property
    def kafka_gateway_target(self) -> str:
        return self.gateway_kafka_address or f"{self.gateway_host}:{self.gateway_kafka_port}"

    @property
    def rabbitmq_gateway_target(self) -> str:
        return self.gateway_rabbitmq_address or f"{self.gateway_host}:{self.gateway_rabbitmq_port}"

    @property
    def redis_url(self) -> str:
        """The Redis URL (redis-py's from_url); credentials percent-encoded."""
        scheme = "rediss" if self.redis_tls else "redis"
        userinfo = _userinfo(self.redis_username, self.redis_password)
        query = (
            {"ssl_ca_certs": str(self.tls_ca_file)} if self.redis_tls and self.tls_ca_file else {}
        )
        address = f"{_host(self.redis_host)}:{self.redis_port}"
        return f"{scheme}://{userinfo}{address}/{self.redis_db}{_query(query)}"

    @property
    def mongo_url(self) -> str:
        """The MongoDB URL; credentials percent-encoded, as the URI format requires."""
        userinfo = _userinfo(self.mongo_user, self.mongo_password) if self.mongo_user else ""
        query: dict[str, str] = {}
        if self.mongo_user:
            query["authSource"] = self.mongo_auth_source
        if self.mongo_tls:
            query["tls"] = "true"
            if self.tls_ca_file is not None:
                query["tlsCAFile"] = str(self.tls_ca_file)
        return f"mongodb://{userinfo}{_host(self.mongo_host)}:{self.mongo_port}/{_query(query)}"

    def kafka_ssl(self) -> ssl.SSLContext | None:
        """The TLS context of Kafka clients (SSL and SASL_SSL), or None without TLS."""
        tls = self.kafka_security_protocol in KAFKA_TLS_PROTOCOLS
        return _client_tls(self.tls_ca_file) if tls else None

    def sql_ssl(self) -> ssl.SSLContext | None:
        """The TLS context for SQL connections (aiomysql's `ssl=`), or None without TLS."""
        return _client_tls(self.tls_ca_file) if self.sql_tls else None

    @property
    def redis_connection_options(self) -> RedisConnectionOptions:
        """Credentials and TLS as redis-py keyword arguments (for clients built from parts)."""
        password = None if self.redis_password is None else self.redis_password.get_secret_value()
        return RedisConnectionOptions(
            username=self.redis_username or None,
            password=password,
            ssl=self.redis_tls,
            ssl_ca_certs=_path_or_none(self.tls_ca_file) if self.redis_tls else None,
        )


def _part(text: str) -> str:
    return quote(text, safe="")


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _userinfo(user: str, password: SecretStr | None) -> str:
    """`user:password@`, each percent-encoded; empty without either."""
    secret = "" if password is None else password.get_secret_value()
    if not user and not secret:
        return ""
    return f"{_part(user)}:{_part(secret)}@" if secret else f"{_part(user)}@"


def _query(values: dict[str, str]) -> str:
    return f"?{urlencode(values)}" if values else ""


def _path_or_none(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _client_tls(ca_file: Path | None) -> ssl.SSLContext:
    """A client context that verifies the server against the CA file (or the system's)."""
    return ssl.create_default_context(cafile=_path_or_none(ca_file))


def _secret_text(value: str | SecretStr) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def load_settings() -> Settings:
    """Read the environment now; raise SettingsError naming each bad variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"SQUID_{'_'.join(str(part) for part in err['loc']).upper()}: {err['msg']}"
            if err["loc"]
            else err["msg"]  # a rule across settings names its variables itself
            for err in exc.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
