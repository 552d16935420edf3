"""`squidstream bench report --quick` against the running stack: every file and section."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from loadtest.processes import ROOT
from squidstream.commands import console_argv
from squidstream.settings import Settings

SECTIONS = (
    "## Conclusions",
    "## Goals",
    "## Machine and versions",
    "## 1. Ingest per route",
    "## 2. End to end freshness",
    "## 3. Projection drain",
    "## 4. Reads by data size",
    "### Replay",
    "## 5. CPU and memory per process",
)


def _report(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    argv = console_argv("bench", "report", *args)
    return subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=400, check=False
    )


def test_a_stack_off_this_machine_is_refused_before_anything_runs(tmp_path: Path) -> None:
    env = {**os.environ, "SQUID_KAFKA_HOST": "192.0.2.7"}

    done = _report("--quick", "--out", str(tmp_path), env=env)

    assert done.returncode == 2
    assert "kafka_host=192.0.2.7" in done.stderr
    assert not (tmp_path / "report.md").exists()


@pytest.mark.stack
@pytest.mark.slow
def test_a_quick_report_fills_every_section_and_check_names_the_missed_goals(
    stack: Settings, tmp_path: Path
) -> None:
    done = _report("--quick", "--check", "--out", str(tmp_path))

    text = (tmp_path / "report.md").read_text(encoding="utf-8")
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert [section for section in SECTIONS if section not in text] == []
    assert results["errors"] == {}, results["errors"]
    assert {p["route"] for p in results["ingest"]} == {"kafka", "rabbitmq"}
    assert {c["broker"] for c in results["ceilings"]} == {"kafka", "rabbitmq"}
    assert {p["store"] for p in results["reads"]} == {"redis", "sql", "mongo"}
    assert results["replay"]
    assert results["drain"]["rates"]
    assert {u["name"] for u in results["usage"]} >= {"kafka", "rabbitmq", "redis", "worker"}
    for plot in ("ingest.png", "freshness.png", "reads.png", "usage.png"):
        assert (tmp_path / plot).read_bytes().startswith(b"\x89PNG"), plot
    # A quick run reads at thousands of events, never 10^6: those goals cannot be met.
    assert done.returncode == 1
    assert "goals missed:" in done.stdout
    assert "redis reads" in done.stdout.splitlines()[-1]
