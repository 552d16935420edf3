"""report.md from one run's results: tables, plots, goals and generated conclusions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from loadtest.report.goals import Goal
from loadtest.report.results import Results
from loadtest.report.stats import Latency


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _ms(latency: Latency | None, field: str = "p99_ms") -> str:
    return "-" if latency is None else f"{getattr(latency, field):,.1f}"


def _machine(results: Results) -> str:
    m = results.machine
    rows = [
        ("cores", m.cores),
        ("memory", f"{m.memory_gib} GiB"),
        ("system", m.os),
        ("Python", m.python),
        ("load average before", " ".join(map(str, m.load_before))),
        ("load average after", " ".join(map(str, m.load_after))),
        *((f"server: {k}", v) for k, v in m.servers.items()),
        *((f"library: {k}", v) for k, v in m.libraries.items()),
    ]
    return table(("", "value"), rows)


def _ingest(results: Results) -> str:
    rows = [
        (p.route, p.mode, p.concurrency, f"{p.accepted:,}", p.failed, f"{p.events_per_s:,.0f}",
         _ms(p.latency, "p50_ms"), _ms(p.latency, "p95_ms"), _ms(p.latency))
        for p in results.ingest
    ]  # fmt: skip
    header = (
        "route",
        "call",
        "in flight",
        "accepted",
        "failed",
        "events/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
    )
    ceilings = table(
        ("broker", "client", "records", "records/s", "p50 ms", "p95 ms", "p99 ms"),
        (
            (
                c.broker,
                c.client,
                f"{c.records:,}",
                f"{c.records_per_s:,.0f}",
                c.p50_ms,
                c.p95_ms,
                c.p99_ms,
            )
            for c in results.ceilings
        ),
    )
    return table(header, rows) + "\n\nEach broker alone, JVM clients:\n\n" + ceilings


def _freshness(results: Results) -> str:
    rows = []
    for p in results.freshness:
        cells = [
            f"{_ms(p.visible.get(s), 'p50_ms')} / {_ms(p.visible.get(s))}"
            for s in ("redis", "sql", "mongo")
        ]
        missing = ", ".join(f"{s} {n}" for s, n in p.missing.items() if n) or "none"
        rows.append(
            (
                p.route,
                f"{p.offered_per_s:,}",
                f"{p.achieved_per_s:,.0f}",
                p.probes,
                *cells,
                missing,
                "yes" if p.sustained else "no",
            )
        )
    header = (
        "route",
        "offered/s",
        "achieved/s",
        "probes",
        "Redis p50/p99 ms",
        "SQL p50/p99 ms",
        "Mongo p50/p99 ms",
        "never visible",
        "sustained",
    )
    return table(header, rows)


def _drain(results: Results) -> str:
    d = results.drain
    if d is None:
        return "not measured"
    ours = d.ours or 0.0
    rows = [
        (name, f"{value:,.0f}", f"{ours / value:.3f}" if value else "-")
        for name, value in d.rates.items()
    ]
    rows += [
        (f"{name} alone, batched", f"{value:,.0f}", f"{ours / value:.3f}")
        for name, value in d.stores.items()
    ]
    return f"`squidstream bench streams --events {d.events:,}`:\n\n" + table(
        ("consumer", "events/s", "ours / this"), rows
    )


def _reads(results: Results) -> str:
    rows = [
        (f"{p.events:,}", p.store, p.report, p.calls, p.failed, f"{p.reports_per_s:,.0f}",
         _ms(p.latency, "p50_ms"), _ms(p.latency))
        for p in results.reads
    ]  # fmt: skip
    replay = table(
        ("events", "seconds", "events/s"),
        ((f"{r.events:,}", f"{r.seconds:.1f}", f"{r.events_per_s:,.0f}") for r in results.replay),
    )
    header = ("events", "store", "report", "calls", "failed", "reports/s", "p50 ms", "p99 ms")
    loaded = (
        "Each size's events are put on the topic, then `squidstream replay` projects the whole"
        " log through the worker's engine into every store; the reads run on what it wrote."
    )
    return loaded + "\n\n" + table(header, rows) + "\n\n### Replay\n\n" + replay


def _usage(results: Results) -> str:
    rows = [
        (
            u.section,
            u.name,
            u.samples,
            f"{u.cpu_mean_pct:.0f}",
            f"{u.cpu_max_pct:.0f}",
            f"{u.rss_max_mib:,.0f}",
        )
        for u in sorted(results.usage, key=lambda u: (u.section, -u.cpu_mean_pct))
    ]
    return table(("section", "process", "samples", "CPU % mean", "CPU % max", "RSS MiB max"), rows)


def _goals(goals: list[Goal]) -> str:
    return table(
        ("goal", "target", "measured", "met"),
        ((g.name, g.target, g.measured, "yes" if g.met else "**no**") for g in goals),
    )


def render(results: Results, goals: list[Goal], conclusions: list[str], plots: list[str]) -> str:
    kind = "quick (small sizes, short phases)" if results.quick else "full"
    parts = [
        "# squidstream benchmark report",
        f"Run {results.started_at} to {results.finished_at}, {kind}; every figure below comes from "
        "this one run on this one machine, every server on loopback. Generated by "
        f"`squidstream bench report{' --quick' if results.quick else ''}`: "
        "nothing here is written by hand.",
        "## Conclusions",
        *conclusions,
        "## Goals",
        _goals(goals),
        "## Machine and versions",
        _machine(results),
        "## 1. Ingest per route",
        _ingest(results),
        "## 2. End to end freshness",
        _freshness(results),
        "## 3. Projection drain",
        _drain(results),
        "## 4. Reads by data size",
        _reads(results),
        "## 5. CPU and memory per process",
        _usage(results),
        "## Plots",
        *(f"![{name}]({name})" for name in plots),
    ]
    if results.errors:
        parts += [
            "## Sections that failed",
            table(
                ("section", "error"),
                ((k, v.replace("\n", " ")[:500]) for k, v in results.errors.items()),
            ),
        ]
    return "\n\n".join(parts) + "\n"
