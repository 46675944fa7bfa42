"""The README's bench command in its quick mode: it runs from a clean checkout and writes its
table, its JSON and its plot, with every measure taken and no failed turn (marker ``bench``)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, project_env

pytestmark = pytest.mark.bench

BACKENDS = ("sqlite", "postgres", "quickstart")


def test_the_quick_bench_measures_every_backend(tmp_path: Path) -> None:
    command = ["uv", "run", "--group", "bench", "python", "-m", "bench.compare", "--quick"]
    result = subprocess.run(
        [*command, "--out", str(tmp_path)],
        cwd=REPO_ROOT,
        env=project_env(),
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    document = json.loads((tmp_path / "compare-quick.json").read_text())
    rounds = document["rounds"]
    layout = document["config"]["layout"]
    expected = [f"threads.list@{layout['threads']}", "turn"]
    expected += [
        f"{kind}@{size}" for kind in ("items.list", "threads.get_by_id") for size in layout["sizes"]
    ]
    expected += [f"concurrent@{count}" for count in document["config"]["concurrency"]]
    for measure in expected:
        for backend in BACKENDS:
            assert rounds[measure][backend], (measure, backend)
    for measure in ("turn", *(m for m in expected if m.startswith("concurrent@"))):
        for backend in BACKENDS:
            assert all(r["errors"] == 0 for r in rounds[measure][backend]), (measure, backend)
    two = rounds[f"processes@{max(document['config']['concurrency'])}"]["postgres x2"]
    assert all(r["errors"] == 0 and r["cross_reads_ok"] == 1.0 for r in two)
    assert (tmp_path / "items-list-quick.png").stat().st_size > 10_000
    table = (tmp_path / "compare-quick.md").read_text()
    assert "## Targets" in table
    assert "quickstart" in table
