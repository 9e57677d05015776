"""The soak of benchmarks/soak.py in its short form (about half a minute per database):
a real ``vcorch serve`` booking, reading and taking bridge events from this process
answers every request as expected and does not grow in memory after its warm-up.

The long form (10 minutes per database, figures in benchmarks/results/soak.json) is
``python benchmarks/soak.py``."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

SOAK_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "soak.py"
WARMUP_SECONDS = 8.0
MEASURED_SECONDS = 22.0
# The long form's goal is 10 %; half a minute on a shared CI machine is noisier.
MAX_GROWTH = 0.10


def load_soak() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vcorch_soak", SOAK_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


async def test_a_short_soak_has_no_errors_and_no_memory_growth(
    database_url: str, tmp_path: Path
) -> None:
    soak = load_soak()
    result = await soak.soak(
        database_url,
        seconds=MEASURED_SECONDS,
        warmup_seconds=WARMUP_SECONDS,
        workers=6,
        directory=tmp_path,
    )
    summary = json.dumps(result, indent=1, ensure_ascii=False)
    assert result["errors"] == 0 and result["warmup_errors"] == 0, summary
    # Every kind of request was made, many times over.
    assert {"book", "ingest", "read_list", "read_meeting", "read_rooms"} <= set(
        result["latency_ms"]
    ), summary
    assert result["requests"] > 100 and result["bookings_made"] > 20, summary
    assert result["memory_growth"] < MAX_GROWTH, summary
    # Against the start of the same run, too: memory at the end is within the same margin.
    baseline = result["same_run_baseline"]
    assert baseline["first"]["requests"] > 20 and baseline["last"]["requests"] > 20, summary
    assert baseline["rss_last_over_first"] < 1 + MAX_GROWTH, summary
