"""The report's PNG plots (matplotlib, no display: the Agg backend)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

# Figure without pyplot: no global figure registry and no display backend to pick.
from matplotlib.figure import Figure
from PIL import Image

from loadtest.report.results import Results
from loadtest.report.stats import Latency


def _subplots(columns: int, size: tuple[float, float], **options: Any) -> tuple[Figure, Any]:
    figure = Figure(figsize=size)
    return figure, figure.subplots(1, columns, **options)


# Plots are committed with each report: 90 dpi and a 64-colour palette keep each PNG small
# (about a third of the size of full colour) with lines and labels still sharp.
DPI = 90
COLOURS = 64


def _save(figure: Figure, path: Path) -> str:
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    with Image.open(buffer) as image:
        image.convert("RGB").quantize(COLOURS).save(path, optimize=True)
    return path.name


def _p99_line(axis: Any, points: list[tuple[float, Latency | None]], label: str) -> None:
    """p99 against x, over the points that measured a latency."""
    measured = [(x, latency.p99_ms) for x, latency in points if latency]
    axis.plot([x for x, _ in measured], [y for _, y in measured], marker="o", label=label)


def _label(axis: Any, title: str, xlabel: str, ylabel: str, **legend: Any) -> None:
    axis.set(title=title, xlabel=xlabel, ylabel=ylabel)
    axis.legend(**legend)


def ingest_curve(results: Results, out: Path) -> str | None:
    if not results.ingest:
        return None
    figure, axes = _subplots(2, (11, 4))
    for axis, mode in zip(axes, ("unary", "stream"), strict=True):
        for route in ("kafka", "rabbitmq"):
            points = sorted(
                (p for p in results.ingest if p.route == route and p.mode.startswith(mode)),
                key=lambda p: p.concurrency,
            )
            _p99_line(axis, [(p.events_per_s, p.latency) for p in points], route)
            for p in points:
                if p.latency:
                    axis.annotate(
                        f"c={p.concurrency}", (p.events_per_s, p.latency.p99_ms), fontsize=7
                    )
        _label(axis, f"{mode}: accepted events/s vs p99 per call", "accepted events/s", "p99 ms")
    return _save(figure, out / "ingest.png")


def freshness_curve(results: Results, out: Path) -> str | None:
    if not results.freshness:
        return None
    figure, axes = _subplots(2, (11, 4), sharey=True)
    for axis, route in zip(axes, ("kafka", "rabbitmq"), strict=True):
        points = sorted(
            (p for p in results.freshness if p.route == route), key=lambda p: p.offered_per_s
        )
        for store in ("redis", "sql", "mongo"):
            seen = [(float(p.offered_per_s), p.visible.get(store)) for p in points]
            _p99_line(axis, seen, f"{store} p99")
        _label(
            axis,
            f"{route} route: freshness p99",
            "offered events/s",
            "ms from acceptance to visible",
        )
    return _save(figure, out / "freshness.png")


def reads_curve(results: Results, out: Path) -> str | None:
    if not results.reads:
        return None
    figure, axis = _subplots(1, (9, 5))
    series = sorted({(p.store, p.report) for p in results.reads})
    for store, report in series:
        points = sorted(
            (p for p in results.reads if (p.store, p.report) == (store, report) and p.latency),
            key=lambda p: p.events,
        )
        _p99_line(axis, [(p.events, p.latency) for p in points], f"{store}: {report}")
    axis.set_xscale("log")
    axis.set_yscale("log")
    _label(
        axis,
        "report latency against data size",
        "projected events",
        "p99 ms, one report in flight",
        fontsize=7,
    )
    return _save(figure, out / "reads.png")


def usage_bars(results: Results, out: Path) -> str | None:
    if not results.usage:
        return None
    sections = sorted({u.section for u in results.usage})
    names = sorted({u.name for u in results.usage})
    figure, (cpu, rss) = _subplots(2, (12, 4.5))
    width = 0.8 / len(sections)
    for n, section in enumerate(sections):
        by = {u.name: u for u in results.usage if u.section == section}
        xs = [i + n * width for i in range(len(names))]
        cpu.bar(xs, [by[m].cpu_mean_pct if m in by else 0 for m in names], width, label=section)
        rss.bar(xs, [by[m].rss_max_mib if m in by else 0 for m in names], width, label=section)
    for axis, label in ((cpu, "mean CPU % (100 = one core)"), (rss, "peak RSS MiB")):
        axis.set_xticks(
            [i + 0.4 - width / 2 for i in range(len(names))], names, rotation=40, ha="right"
        )
        axis.set_ylabel(label)
        axis.legend(fontsize=7)
    return _save(figure, out / "usage.png")


def draw_all(results: Results, out: Path) -> list[str]:
    drawn = [
        ingest_curve(results, out),
        freshness_curve(results, out),
        reads_curve(results, out),
        usage_bars(results, out),
    ]
    return [name for name in drawn if name]
