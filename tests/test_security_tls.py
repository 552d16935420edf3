"""TLS on our listeners: a gateway over gRPC TLS, the ingress's channel to it, and HTTPS from the
`squidstream ingress` and `squidstream views` processes, with a certificate made here."""

from __future__ import annotations

import contextlib
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import pytest

from gateways.emitters.memory import MemoryEmitter
from gateways.ingress import create_app
from gateways.reservations.memory import MemoryReservations
from gateways.routing import RouteWeights
from gateways.server import GatewayServer
from squidstream.proto import game_pb2, game_pb2_grpc
from squidstream.settings import Settings
from tests.helpers import free_port, self_signed

SQUIDSTREAM = Path(sys.executable).with_name("squidstream")
START_BOUND_S = 60.0


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def settings(self) -> Settings:
        return Settings(tls_cert_file=self.cert, tls_key_file=self.key)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for localhost and 127.0.0.1, made with the openssl CLI."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = self_signed(folder, "localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1")
    return Certificate(cert, key)


def _request(request_id: str) -> game_pb2.PlayRequest:
    return game_pb2.PlayRequest(request_id=request_id, game_id=3, players=10)


@pytest.mark.asyncio
async def test_a_gateway_with_a_certificate_serves_grpc_over_tls(certificate: Certificate) -> None:
    emitter = MemoryEmitter("kafka")
    server = GatewayServer(
        "kafka", certificate.settings(), port=0, emitter=emitter, reservations=MemoryReservations()
    )
    await server.start()
    trust = grpc.ssl_channel_credentials(root_certificates=certificate.cert.read_bytes())
    try:
        async with grpc.aio.secure_channel(f"localhost:{server.port}", trust) as channel:
            reply = await game_pb2_grpc.GameGatewayStub(channel).Play(_request("tls"), timeout=10)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as plain:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await game_pb2_grpc.GameGatewayStub(plain).Play(_request("plain"), timeout=5)
    finally:
        await server.stop(0)
    assert reply.event.request_id == "tls"
    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
    assert [event.request_id for event in emitter.emitted] == ["tls"]


@pytest.mark.asyncio
async def test_the_ingress_reaches_a_tls_gateway_trusting_the_ca_file(
    certificate: Certificate,
) -> None:
    emitter = MemoryEmitter("kafka")
    server = GatewayServer(
        "kafka", certificate.settings(), port=0, emitter=emitter, reservations=MemoryReservations()
    )
    await server.start()
    settings = Settings(
        gateway_kafka_address=f"localhost:{server.port}",
        gateway_tls=True,
        tls_ca_file=certificate.cert,
    )
    app = create_app(settings, RouteWeights({"kafka": 100, "rabbitmq": 0}))
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://ingress") as client:
                response = await client.post("/api/games", json={"game_id": 3, "players": 40})
    finally:
        await server.stop(0)
    assert response.status_code == 201, response.text
    assert [event.event_id for event in emitter.emitted] == [response.json()["event_id"]]


@contextlib.contextmanager
def _serve(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        child = subprocess.Popen(
            [str(SQUIDSTREAM), *args],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield child
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _https_get(url: str, cert: Path, child: subprocess.Popen[bytes], log: Path) -> httpx.Response:
    """GET once the child listens (it has START_BOUND_S to start); fails if it dies first."""
    trust = ssl.create_default_context(cafile=str(cert))
    give_up = time.monotonic() + START_BOUND_S
    with httpx.Client(verify=trust, timeout=5) as client:
        while True:
            try:
                return client.get(url)
            except httpx.ConnectError:
                if child.poll() is not None or time.monotonic() > give_up:
                    pytest.fail(f"{url} never answered:\n{log.read_text(errors='replace')}")
                time.sleep(0.2)


def _tls_env(certificate: Certificate) -> dict[str, str]:
    return {
        "SQUID_TLS_CERT_FILE": str(certificate.cert),
        "SQUID_TLS_KEY_FILE": str(certificate.key),
    }


@pytest.mark.parametrize("command", ["ingress", "views"])
def test_the_http_processes_answer_https_with_the_certificate(
    certificate: Certificate, command: str, tmp_path: Path
) -> None:
    port = free_port()
    # The stores and brokers are not needed for /healthz: nothing listens on port 9.
    offline = {f"SQUID_{name}_PORT": "9" for name in ("REDIS", "SQL", "MONGO", "KAFKA")}
    log = tmp_path / f"{command}.log"
    with _serve([command, "--port", str(port)], {**_tls_env(certificate), **offline}, log) as child:
        response = _https_get(f"https://localhost:{port}/healthz", certificate.cert, child, log)
        assert response.status_code == 200
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)  # no plain text beside it
