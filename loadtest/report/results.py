"""Everything one report run measured, as plain frozen records (written out as JSON)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadtest.report.drain import Drain
from loadtest.report.freshness import FreshnessPoint
from loadtest.report.ingest import IngestPoint
from loadtest.report.java_clients import BrokerCeiling
from loadtest.report.machine import Machine
from loadtest.report.reads import ReadPoint, ReplayPoint
from loadtest.report.usage import ProcessUsage


@dataclass
class Results:
    """Filled section by section; a section that failed leaves its error instead."""

    started_at: str
    quick: bool
    machine: Machine
    ingest: list[IngestPoint] = field(default_factory=list)
    ceilings: list[BrokerCeiling] = field(default_factory=list)
    freshness: list[FreshnessPoint] = field(default_factory=list)
    drain: Drain | None = None
    reads: list[ReadPoint] = field(default_factory=list)
    replay: list[ReplayPoint] = field(default_factory=list)
    usage: list[ProcessUsage] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # section -> what went wrong
    finished_at: str = ""


def to_json(results: Results) -> dict[str, Any]:
    return dataclasses.asdict(results)


def write_json(results: Results, path: Path) -> None:
    path.write_text(json.dumps(to_json(results), indent=2) + "\n", encoding="utf-8")
