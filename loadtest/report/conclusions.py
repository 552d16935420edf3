"""Conclusions written from the numbers of one run: one short paragraph per question."""

from __future__ import annotations

from loadtest.report.freshness import highest_sustained
from loadtest.report.goals import RESULT_REPORTS, best_stream_rate
from loadtest.report.reads import ReadPoint
from loadtest.report.results import Results


def _times(a: float, b: float) -> str:
    return f"{a / b:.1f} times" if b else "(not comparable)"


def _unary(results: Results, route: str) -> float:
    return max(
        (p.events_per_s for p in results.ingest if p.route == route and p.mode == "unary"),
        default=0.0,
    )


def _stream_p99(results: Results, route: str) -> float | None:
    best = max(
        (p for p in results.ingest if p.route == route and p.mode != "unary"),
        key=lambda p: p.events_per_s,
        default=None,
    )
    return best.latency.p99_ms if best and best.latency else None


def messaging(results: Results) -> str:
    kafka, rabbit = best_stream_rate(results, "kafka"), best_stream_rate(results, "rabbitmq")
    if not kafka or not rabbit:
        return "Messaging: not measured in this run."
    ku, ru = _unary(results, "kafka"), _unary(results, "rabbitmq")
    kp, rp = _stream_p99(results, "kafka"), _stream_p99(results, "rabbitmq")
    text = (
        f"Messaging: the Kafka route accepted {kafka:,.0f} events/s on PlayStream against "
        f"{rabbit:,.0f} for the RabbitMQ route, {_times(kafka, rabbit)} as many, "
        f"and {ku:,.0f} against {ru:,.0f} on unary calls ({_times(ku, ru)})"
    )
    if kp is not None and rp is not None:
        text += f"; at those rates a batch took {kp:,.0f} ms against {rp:,.0f} ms at p99"
    text += "."
    ceilings = {c.broker: c.records_per_s for c in results.ceilings}
    if "kafka" in ceilings and "rabbitmq" in ceilings:
        text += (
            f" With JVM clients the brokers alone took {ceilings['kafka']:,.0f} (Kafka) and "
            f"{ceilings['rabbitmq']:,.0f} (RabbitMQ) durable messages/s, so our Python gateways "
            f"reach {kafka / ceilings['kafka']:.0%} and {rabbit / ceilings['rabbitmq']:.0%} of "
            "their broker's own ceiling on this machine."
        )
    return text


def freshness(results: Results) -> str:
    if not results.freshness:
        return "Freshness: not measured in this run."
    parts = []
    for route in ("kafka", "rabbitmq"):
        points = [p for p in results.freshness if p.route == route]
        if not points:
            continue
        top = max(points, key=lambda p: p.offered_per_s)
        stores = ", ".join(
            f"{store} {latency.p99_ms:,.0f} ms" if latency else f"{store} never"
            for store, latency in top.visible.items()
        )
        kept = highest_sustained(results.freshness, route)
        sustained = f"{kept:,}/s" if kept else "none of the offered rates"
        parts.append(
            f"on the {route} route at {top.offered_per_s:,} events/s offered, p99 {stores}; "
            f"highest rate sustained without growing lag: {sustained}"
        )
    return "Freshness (gateway acceptance to visible): " + "; ".join(parts) + "."


def _by(points: list[ReadPoint], store: str, report: str, size: int) -> ReadPoint | None:
    return next(
        (p for p in points if (p.store, p.report, p.events) == (store, report, size) and p.latency),
        None,
    )


def stores(results: Results) -> str:
    sizes = sorted({p.events for p in results.reads})
    if not sizes:
        return "Stores: not measured in this run."
    sentences = []
    for report in RESULT_REPORTS:
        at = {
            size: (
                _by(results.reads, "redis", report, size),
                _by(results.reads, "sql", report, size),
            )
            for size in sizes
        }
        winners = []
        for size, (redis, sql) in at.items():
            if redis and sql and redis.latency and sql.latency:
                faster = "Redis" if redis.latency.p50_ms <= sql.latency.p50_ms else "SQL"
                pair = f"{redis.latency.p50_ms:.2f} vs {sql.latency.p50_ms:.2f} ms p50"
                winners.append(f"{faster} at {size:,} ({pair})")
        growth = _growth(results.reads, report, sizes)
        if winners:
            sentences.append(f"{report}: faster is " + ", ".join(winners) + growth)
    return "Stores (Redis vs SQL, one report in flight): " + "; ".join(sentences) + "."


def _growth(points: list[ReadPoint], report: str, sizes: list[int]) -> str:
    if len(sizes) < 2:
        return ""
    small, large = sizes[0], sizes[-1]
    parts = []
    for store in ("redis", "sql"):
        a, b = _by(points, store, report, small), _by(points, store, report, large)
        if a and b and a.latency and b.latency and a.latency.p99_ms:
            parts.append(f"{store} p99 x{b.latency.p99_ms / a.latency.p99_ms:.1f}")
    scale = f"{large // small:,}x the data" if small else "more data"
    return f", and with {scale}: " + ", ".join(parts) if parts else ""


def audit(results: Results) -> str:
    mongo = [p for p in results.reads if p.store == "mongo" and p.latency]
    if not mongo:
        return "Audit log: not measured in this run."
    largest = max(p.events for p in mongo)
    parts = [
        f"{p.report} {p.latency.p99_ms:,.1f} ms p99"
        + (f" ({p.failed} of {p.calls} failed)" if p.failed else "")
        for p in mongo
        if p.events == largest and p.latency
    ]
    return f"Audit log (MongoDB wire) at {largest:,} events: " + ", ".join(parts) + "."


def drain(results: Results) -> str:
    d = results.drain
    if d is None or d.ours is None:
        return "Projection drain: not measured in this run."
    text = f"Projection drain: our worker projected {d.ours:,.0f} events/s into all three stores"
    bare = next((r for n, r in d.rates.items() if n.startswith("bare")), None)
    naive = next((r for n, r in d.rates.items() if n.startswith("naive")), None)
    counting = next((r for n, r in d.rates.items() if "only counts" in n), None)
    if bare:
        text += f", {d.ours / bare:.2f} of a bare aiokafka consumer ({bare:,.0f}/s)"
    if counting:
        # Per-event costs add up where rates do not: Faust's share and the projection's.
        faust_us, ours_us = 1e6 / counting, 1e6 / d.ours
        text += (
            f", {d.ours / counting:.2f} of a Faust agent that only counts ({counting:,.0f}/s:"
            f" Faust itself costs {faust_us:,.0f} µs of our {ours_us:,.0f} µs per event)"
        )
    if naive:
        text += f", {_times(d.ours, naive)} the naive per-message consumer ({naive:,.0f}/s)"
    if slowest := d.slowest_store:
        name, alone = slowest
        text += f"; the slowest store alone ({name}) took {alone:,.0f}/s"
        text += f", so the worker reaches {d.ours / alone:.2f} of it"
    return text + "."


def replay(results: Results) -> str:
    if not results.replay:
        return "Replay: not measured in this run."
    parts = ", ".join(f"{r.events_per_s:,.0f} events/s at {r.events:,}" for r in results.replay)
    return f"Replay (`squidstream replay`, all projections rebuilt from offset 0): {parts}."


def conclusions(results: Results) -> list[str]:
    return [
        messaging(results),
        freshness(results),
        stores(results),
        audit(results),
        drain(results),
        replay(results),
    ]
