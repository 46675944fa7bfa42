"""Generated backends (SQLite, PostgreSQL) against the ChatKit docs' quickstart, side by side.

    uv run --group bench python -m bench.compare [--quick] [--out bench/results]

It generates and syncs two projects with this checkout's CLI (the defaults, and
``--database postgres`` on a fresh database of the local server, dropped afterwards), seeds the
same threads into each (through the project's own store module) and into the quickstart
baseline (``bench/quickstart``, run in the SQLite project's environment, so with the same SDK
versions), starts the three under uvicorn on 127.0.0.1 against one fake streaming model
(``bench.fake_model``), and drives them with one client, server after server within each round.

Printed, and written to ``<out>/compare-<mode>.md``, ``.json`` and ``items-list-<mode>.png``:
wall time and server CPU per request (``/proc/<pid>/stat`` before and after each batch) for
``threads.list`` (1k threads), ``items.list`` and ``threads.get_by_id`` (100, 10k and 100k
items); streamed turns (time to first delta, turn time, both minus the model's own time);
100 and 300 concurrent turns (errors, p50/p95, CPU per turn, peak memory); and 2 app processes
on one PostgreSQL database against 1. Medians over rounds, with the lowest and highest round;
ratios are taken round by round. ``--quick`` (two to three minutes) seeds 100 and 2k items,
measures 40 concurrent turns, and runs fewer, shorter rounds: a smoke test, not a report.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.client import Target, TurnBatch, fake_timings, json_batch, new_client, turn_batch
from bench.fake_model import Timing
from bench.profiled import top_frames
from bench.report import (
    BASELINE,
    Goal,
    Results,
    cell,
    figure_table,
    markdown_table,
    plot_items_list,
    to_json,
)
from bench.seed import USER_TEXT, Layout
from bench.servers import (
    PACKAGE,
    REPO,
    admin_sql,
    bench_server,
    chatkit_answers,
    clean_env,
    export,
    generate,
    postgres_database,
    python_of,
)
from bench.stats import percentile
from tests.e2e.server_process import ServerProcess, free_port

SDK_DISTRIBUTIONS = ("openai-chatkit", "openai-agents", "openai", "pydantic", "fastapi", "uvicorn")
#: The quickstart answers from the first 20 items of a thread (it loads them in ascending
#: order), so a thread must stay under 20 items for the model to see the new message.
MAX_TURNS_PER_THREAD = 9
WARMUP_TURNS = 3


@dataclass(frozen=True)
class Config:
    """How much the bench seeds and measures."""

    mode: str
    layout: Layout
    rounds: int
    batch_seconds: float
    batch_requests: tuple[int, int]
    warmup: int
    turns: int
    concurrency: tuple[int, ...]
    concurrency_rounds: int
    two_process_rounds: int
    sequential_pool: int
    max_minutes: float
    timing: Timing = field(default_factory=Timing)

    def check(self) -> None:
        sequential = (WARMUP_TURNS + self.rounds * self.turns) / self.sequential_pool
        concurrent = self.concurrency_rounds * len(self.concurrency) + self.two_process_rounds
        if max(sequential, concurrent) > MAX_TURNS_PER_THREAD:
            raise ValueError("too many turns per thread for the quickstart's history window")
        if self.layout.turn_threads < max(self.concurrency) + self.sequential_pool:
            raise ValueError("the layout has too few turn threads")


QUICK = Config(
    mode="quick",
    layout=Layout(threads=1000, sizes=(100, 2_000), turn_threads=60),
    rounds=2,
    batch_seconds=0.2,
    batch_requests=(10, 40),
    warmup=3,
    turns=5,
    concurrency=(40,),
    concurrency_rounds=1,
    two_process_rounds=1,
    sequential_pool=20,
    max_minutes=10,
)
FULL = Config(
    mode="full",
    layout=Layout(threads=1000, sizes=(100, 10_000, 100_000), turn_threads=350),
    rounds=7,
    batch_seconds=1.2,
    batch_requests=(20, 400),
    warmup=20,
    turns=20,
    concurrency=(100, 300),
    concurrency_rounds=3,
    two_process_rounds=3,
    sequential_pool=50,
    max_minutes=120,
)


def json_measures(layout: Layout) -> list[tuple[str, str, bytes]]:
    """(key, label, body) of every JSON request measured."""

    def body(kind: str, **params: Any) -> bytes:
        return json.dumps({"type": kind, "params": params}).encode()

    threads = layout.threads
    measures = [
        (
            f"threads.list@{threads}",
            f"threads.list, {threads:,} threads",
            body("threads.list", limit=20, order="desc"),
        )
    ]
    for size in layout.sizes:
        thread = layout.sized_thread(size)
        measures.append(
            (
                f"items.list@{size}",
                f"items.list, {size:,} items",
                body("items.list", thread_id=thread, limit=20, order="desc"),
            )
        )
    for size in layout.sizes:
        thread = layout.sized_thread(size)
        measures.append(
            (
                f"threads.get_by_id@{size}",
                f"threads.get_by_id, {size:,} items",
                body("threads.get_by_id", thread_id=thread),
            )
        )
    return measures


_STARTED = time.monotonic()


def progress(message: str) -> None:
    """A progress line on stdout, with the seconds since the bench started."""
    print(f"[{time.monotonic() - _STARTED:6.0f} s] {message}", flush=True)


class Clock:
    """The bench's time budget: every loop stops adding rounds once it is spent."""

    def __init__(self, minutes: float) -> None:
        self.deadline = time.monotonic() + minutes * 60

    @property
    def spent(self) -> bool:
        return time.monotonic() > self.deadline


def rotated(items: Sequence[str], round_index: int) -> list[str]:
    """The servers' order in a round: each one goes first in turn."""
    shift = round_index % len(items)
    return [*items[shift:], *items[:shift]]


def turn_text() -> str:
    """A unique user message (the fake model keys its timing records by it)."""
    return f"[{uuid.uuid4().hex[:12]}] {USER_TEXT}"


def turn_figures(batch: TurnBatch, timings: dict[str, Any], timing: Timing) -> dict[str, float]:
    """A turn batch's figures; the model's own time is the fake's record, else its nominal one."""
    overheads, first_overheads, unmatched = [], [], 0
    for turn in batch.turns:
        record = timings.get(turn.text)
        if record is None:
            unmatched += 1
            first_model, model = timing.first_token_seconds, timing.model_seconds
        else:
            first_model, model = record
        if turn.error is None:
            overheads.append(turn.total - model)
            if turn.first_delta is not None:
                first_overheads.append(turn.first_delta - first_model)
    firsts = [t.first_delta for t in batch.turns if t.first_delta is not None]
    figures = {
        "wall": statistics.median(batch.walls),
        "wall_p95": percentile(batch.walls, 0.95),
        "cpu": batch.cpu_per_request,
        "errors": float(len(batch.errors)),
        "unmatched": float(unmatched),
        "rss_peak_mib": batch.rss_peak_kib / 1024,
        "rss_growth_mib": (batch.rss_peak_kib - batch.rss_before_kib) / 1024,
    }
    if firsts:
        figures["ttfd"] = statistics.median(firsts)
        figures["ttfd_p95"] = percentile(firsts, 0.95)
    if overheads:
        figures["overhead"] = statistics.median(overheads)
        figures["overhead_p95"] = percentile(overheads, 0.95)
    if first_overheads:
        figures["ttfd_overhead"] = statistics.median(first_overheads)
    return figures


PROFILE_SECONDS = 6.0


class ProfiledSection:
    """Profiling of one server while the block runs (``bench.profiled``'s signals)."""

    def __init__(self, server: ServerProcess, folder: Path, number: int) -> None:
        self.server, self.dump = server, folder / f"{number}.prof"

    def __enter__(self) -> ProfiledSection:
        os.kill(self.server.pid, signal.SIGUSR1)
        return self

    def __exit__(self, *exc_info: object) -> None:
        os.kill(self.server.pid, signal.SIGUSR2)
        deadline = time.monotonic() + 60
        while not self.dump.exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.server.name} wrote no profile {self.dump}")
            time.sleep(0.1)

    def write(self, stem: Path) -> None:
        """Keep the statistics as ``stem.prof`` and their top frames as ``stem.txt``."""
        prof = stem.parent / f"{stem.name}.prof"
        os.replace(self.dump, prof)
        (stem.parent / f"{stem.name}.txt").write_text(top_frames(prof) + "\n")


class Bench:
    """The measuring half: the running servers, the client's batches, the results."""

    def __init__(
        self, config: Config, targets: dict[str, Target], second: Target | None, fake: str
    ) -> None:
        self.config, self.targets, self.second, self.fake = config, targets, second, fake
        self.backends = list(targets)
        self.results = Results(self.backends)
        self.clock = Clock(config.max_minutes)
        self._sequential = 0
        self._batch_sizes: dict[tuple[str, str], int] = {}

    def _sequential_jobs(self, count: int) -> list[tuple[str, str]]:
        jobs = []
        first = max(self.config.concurrency)
        for _ in range(count):
            index = first + self._sequential % self.config.sequential_pool
            jobs.append((self.config.layout.turn_thread(index), turn_text()))
            self._sequential += 1
        return jobs

    async def run(self) -> Results:
        await self._warm_up()
        await self._requests_and_turns()
        await self._concurrent_turns()
        if self.second is not None:
            await self._two_processes()
        return self.results

    async def profile(self, folder: Path, servers: dict[str, ServerProcess]) -> None:
        """cProfile each server on a few measures; write ``<folder>/<server>-<measure>.txt``."""
        sizes = self.config.layout.sizes
        wanted = {
            f"threads.list@{self.config.layout.threads}",
            f"items.list@{min(sizes)}",
            f"threads.get_by_id@{min(sizes)}",
            f"items.list@{max(sizes)}",
        }
        await self._warm_up()
        for name in self.backends:
            server, dumps = servers[name], 0
            for key, _, body in json_measures(self.config.layout):
                if key not in wanted:
                    continue
                dumps += 1
                progress(f"profiling {name} {key}")
                with ProfiledSection(server, folder / name, dumps) as section:
                    count = self._batch_sizes[key, name]
                    deadline = time.monotonic() + PROFILE_SECONDS
                    while time.monotonic() < deadline:
                        await json_batch(self.targets[name], body, count)
                section.write(folder / f"{name}-{key}")
            dumps += 1
            progress(f"profiling {name} turns")
            with ProfiledSection(server, folder / name, dumps) as section:
                deadline = time.monotonic() + PROFILE_SECONDS
                while time.monotonic() < deadline:
                    jobs = self._sequential_jobs(self.config.turns)
                    await turn_batch([self.targets[name]], jobs, concurrent=False)
            section.write(folder / f"{name}-turn")
        await fake_timings(self.fake)

    async def _warm_up(self) -> None:
        progress("warming up")
        low, high = self.config.batch_requests
        for name, target in self.targets.items():
            for key, _, body in json_measures(self.config.layout):
                batch = await json_batch(target, body, self.config.warmup)
                # Enough requests for the server CPU of a batch to span many clock ticks.
                wall = statistics.median(batch.walls)
                count = round(self.config.batch_seconds / wall)
                self._batch_sizes[key, name] = max(low, min(high, count))
        for name in self.backends:
            jobs = self._sequential_jobs(WARMUP_TURNS)
            batch = await turn_batch([self.targets[name]], jobs, concurrent=False)
            if batch.errors:
                raise RuntimeError(f"{name}: warm-up turns failed: {batch.errors[:3]}")
        await fake_timings(self.fake)

    async def _requests_and_turns(self) -> None:
        measures = json_measures(self.config.layout)
        for round_index in range(self.config.rounds):
            if self.clock.spent:
                self.results.notes.append(f"time budget spent after {round_index} rounds")
                break
            progress(f"round {round_index + 1}/{self.config.rounds}")
            order = rotated(self.backends, round_index)
            for key, _, body in measures:
                for name in order:
                    count = self._batch_sizes[key, name]
                    batch = await json_batch(self.targets[name], body, count)
                    self.results.add(
                        key,
                        name,
                        {
                            "wall": statistics.median(batch.walls),
                            "wall_p95": percentile(batch.walls, 0.95),
                            "cpu": batch.cpu_per_request,
                            "requests": float(count),
                        },
                    )
            for name in order:
                jobs = self._sequential_jobs(self.config.turns)
                batch = await turn_batch([self.targets[name]], jobs, concurrent=False)
                timings = await fake_timings(self.fake)
                self.results.add("turn", name, turn_figures(batch, timings, self.config.timing))

    async def _concurrent_turns(self) -> None:
        for round_index in range(self.config.concurrency_rounds):
            for count in self.config.concurrency:
                if self.clock.spent:
                    self.results.notes.append("time budget spent during concurrent turns")
                    return
                progress(f"{count} concurrent turns, round {round_index + 1}")
                for name in rotated(self.backends, round_index):
                    jobs = [(self.config.layout.turn_thread(i), turn_text()) for i in range(count)]
                    batch = await turn_batch([self.targets[name]], jobs, concurrent=True)
                    timings = await fake_timings(self.fake)
                    figures = turn_figures(batch, timings, self.config.timing)
                    self.results.add(f"concurrent@{count}", name, figures)
                    if batch.errors:
                        self.results.notes.append(
                            f"{name}, {count} concurrent: {len(batch.errors)} errors, "
                            f"e.g. {batch.errors[0][:300]}"
                        )

    async def _two_processes(self) -> None:
        assert self.second is not None
        count = max(self.config.concurrency)
        setups = {
            "postgres": [self.targets["postgres"]],
            "postgres x2": [self.targets["postgres"], self.second],
        }
        for round_index in range(self.config.two_process_rounds):
            if self.clock.spent:
                self.results.notes.append("time budget spent during the two-process turns")
                return
            progress(f"{count} concurrent turns on 1 and 2 PostgreSQL processes")
            for name in rotated(list(setups), round_index):
                jobs = [(self.config.layout.turn_thread(i), turn_text()) for i in range(count)]
                batch = await turn_batch(setups[name], jobs, concurrent=True)
                timings = await fake_timings(self.fake)
                figures = turn_figures(batch, timings, self.config.timing)
                if name == "postgres x2":
                    figures["cross_reads_ok"] = await self._cross_reads(jobs)
                self.results.add(f"processes@{count}", name, figures)

    async def _cross_reads(self, jobs: list[tuple[str, str]]) -> float:
        """Share of turns written through one process that the other process reads back."""
        assert self.second is not None
        readers = [self.second, self.targets["postgres"]]
        checked = jobs[:20]
        found = 0
        for index, (thread_id, text) in enumerate(checked):
            reader = readers[index % 2]
            body = {"type": "items.list", "params": {"thread_id": thread_id, "limit": 4}}
            async with new_client(1) as client:
                response = await client.post(reader.endpoint, json=body)
            if response.status_code == 200 and text in response.text:
                found += 1
        return found / len(checked)


def sdk_versions(project: Path) -> dict[str, str]:
    script = (
        "import json, importlib.metadata as m, sys\n"
        "print(json.dumps({d: m.version(d) for d in sys.argv[1:]}))\n"
    )
    output = subprocess.run(
        [python_of(project), "-c", script, *SDK_DISTRIBUTIONS],
        capture_output=True,
        text=True,
        check=True,
        env=clean_env(),
    ).stdout
    versions: dict[str, str] = json.loads(output)
    return versions


def seed_databases(projects: dict[str, tuple[Path, str]], layout: Layout, logs: Path) -> None:
    """Seed every project's database at once (each through its own store module)."""
    processes = []
    for name, (project, url) in projects.items():
        command = [
            python_of(project),
            "-m",
            "bench.seed_store",
            "--package",
            PACKAGE,
            "--database-url",
            url,
            "--layout",
            layout.to_json(),
        ]
        log = (logs / f"seed-{name}.log").open("wb")
        env = clean_env({"PYTHONPATH": str(REPO)})
        processes.append(
            (name, log, subprocess.Popen(command, cwd=project, env=env, stdout=log, stderr=log))
        )
    failed = []
    for name, log, process in processes:
        try:
            code = process.wait(timeout=1800)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        log.close()
        if code != 0:
            failed.append(f"{name}:\n{(logs / f'seed-{name}.log').read_text()[-3000:]}")
        else:
            progress(f"  {name}: {(logs / f'seed-{name}.log').read_text().strip()}")
    if failed:
        raise RuntimeError("seeding failed:\n" + "\n".join(failed))


def module_command(
    project: Path, module: str, args: Sequence[str], profile: Path | None
) -> list[str]:
    """``python -m module args`` in the project's environment, under ``bench.profiled`` if asked."""
    if profile is None:
        return [python_of(project), "-m", module, *args]
    return [python_of(project), "-m", "bench.profiled", str(profile), module, *args]


def app_server(
    name: str, project: Path, env: dict[str, str], logs: Path, profile: Path | None
) -> ServerProcess:
    port = free_port()
    args = [f"{PACKAGE}.main:app", "--host", "127.0.0.1", "--port", str(port)]
    if profile is not None:
        env = {**env, "PYTHONPATH": str(REPO)}
    return bench_server(
        module_command(project, "uvicorn", args, profile and profile / name),
        name=name,
        cwd=project,
        env={**env, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"},
        port=port,
        log_path=logs / f"{name}.log",
    )


def run_bench(
    config: Config,
    out: Path,
    work: Path,
    profile: Path | None = None,
    before: str | None = None,
) -> dict[str, Any] | None:
    """Everything: projects, databases, servers, measures; returns the JSON document.

    With ``profile`` (a folder), the servers run under ``bench.profiled`` and only the profiles
    of a few measures are taken (no figures: profiling slows the servers down). With ``before``
    (a git ref), a SQLite project generated by the tool at that ref runs too, as
    ``sqlite@<ref>``, in the same rounds.
    """
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    started = time.monotonic()
    progress("generating and syncing the projects")
    projects = {name: generate(work, name) for name in ("sqlite", "postgres")}
    old = f"sqlite@{before}" if before else None
    if before is not None:
        source = export(before, work / "before-src")
        projects["sqlite-before"] = generate(work, "sqlite", source, "sqlite-before")
    versions = sdk_versions(projects["sqlite"])
    with ExitStack() as stack:
        fake_port = free_port()
        fake = bench_server(
            [
                sys.executable,
                "-m",
                "bench.fake_model",
                "--port",
                str(fake_port),
                "--first-token-ms",
                str(config.timing.first_token_ms),
                "--token-ms",
                str(config.timing.token_ms),
                "--tokens",
                str(config.timing.tokens),
            ],
            name="fake-model",
            cwd=REPO,
            env=clean_env({"PYTHONPATH": str(REPO)}),
            port=fake_port,
            log_path=logs / "fake-model.log",
        )
        stack.callback(fake.stop)
        fake.launch()
        database_url = stack.enter_context(postgres_database(projects["postgres"]))
        sqlite_url = f"sqlite:///{work / 'data' / 'app.db'}"
        progress("seeding the databases")
        seeds = {
            "sqlite": (projects["sqlite"], sqlite_url),
            "postgres": (projects["postgres"], database_url),
        }
        old_url = f"sqlite:///{work / 'data-before' / 'app.db'}"
        if old is not None:
            seeds[old] = (projects["sqlite-before"], old_url)
        seed_databases(seeds, config.layout, logs)
        # What autovacuum would do soon after such a load; the planner needs the statistics.
        admin_sql(projects["postgres"], "ANALYZE", url=database_url)
        model_env = {
            "OPENAI_API_KEY": "bench",
            "OPENAI_BASE_URL": f"http://127.0.0.1:{fake_port}/v1",
            "OPENAI_AGENTS_DISABLE_TRACING": "true",
        }
        sqlite = app_server(
            "sqlite",
            projects["sqlite"],
            clean_env(
                {**model_env, "DATABASE_URL": sqlite_url, "UPLOAD_DIR": str(work / "up-sqlite")}
            ),
            logs,
            profile,
        )
        pg_env = clean_env(
            {**model_env, "DATABASE_URL": database_url, "UPLOAD_DIR": str(work / "up-pg")}
        )
        postgres = app_server("postgres", projects["postgres"], pg_env, logs, profile)
        second = app_server("postgres-2", projects["postgres"], pg_env, logs, None)
        quick_port = free_port()
        quickstart = bench_server(
            module_command(
                projects["sqlite"],
                "bench.serve_quickstart",
                ["--port", str(quick_port), "--layout", config.layout.to_json()],
                profile and profile / BASELINE,
            ),
            name=BASELINE,
            cwd=projects["sqlite"],
            env=clean_env({**model_env, "PYTHONPATH": str(REPO)}),
            port=quick_port,
            log_path=logs / "quickstart.log",
            ready_check=chatkit_answers,
        )
        servers = [sqlite, postgres, second, quickstart]
        measured = [sqlite, postgres, quickstart]
        if old is not None:
            old_env = {**model_env, "DATABASE_URL": old_url, "UPLOAD_DIR": str(work / "up-old")}
            previous = app_server(old, projects["sqlite-before"], clean_env(old_env), logs, profile)
            servers.append(previous)
            measured.insert(1, previous)
        for process in servers:
            stack.callback(process.stop)
            process.launch()
        progress("starting the servers")
        for process in [fake, *servers]:
            process.wait_ready()
        targets = {s.name: Target(s.name, s.url, s.pid) for s in measured}
        second_target = Target(second.name, second.url, second.pid)
        bench = Bench(config, targets, second_target, fake.url)
        setup_seconds = time.monotonic() - started
        if profile is not None:
            asyncio.run(bench.profile(profile, {s.name: s for s in servers}))
            return None
        results = asyncio.run(bench.run())
        for process in servers:
            if process.exited():
                results.notes.append(f"{process.name} exited during the bench")
    extra = {
        "mode": config.mode,
        "config": asdict(config),
        "machine": {
            "cpus": os.cpu_count(),
            "load_before": load_before,
            "load_after": os.getloadavg(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "versions": versions,
        "setup_seconds": setup_seconds,
        "total_seconds": time.monotonic() - started,
    }
    report_text = render_report(results, config, extra)
    print(report_text)
    (out / f"compare-{config.mode}.md").write_text(report_text + "\n")
    document = to_json(results, {**extra, "targets": [asdict(t) for t in goals(results, config)]})
    (out / f"compare-{config.mode}.json").write_text(document + "\n")
    plot_items_list(results, config.layout.sizes, out / f"items-list-{config.mode}.png")
    print(f"\nwrote {out / f'compare-{config.mode}.json'} and the plot", flush=True)
    parsed: dict[str, Any] = json.loads(document)
    return parsed


def goals(results: Results, config: Config) -> list[Goal]:
    """The issue's targets, evaluated on this run's medians."""
    threads = config.layout.threads
    largest, smallest = max(config.layout.sizes), min(config.layout.sizes)

    def median_of(summary: Any) -> float | None:
        return summary.median if summary is not None else None

    found: list[Goal] = []
    for backend, limit in (("sqlite", 0.6), ("postgres", 0.8)):
        for measure in (
            f"items.list@{smallest}",
            f"threads.get_by_id@{smallest}",
            f"threads.list@{threads}",
        ):
            value = median_of(results.paired_ratio(measure, backend, "cpu"))
            found.append(Goal(f"{backend} {measure} server CPU vs quickstart", value, limit))
    for backend in ("sqlite", "postgres"):
        growth = results.growth(f"items.list@{smallest}", f"items.list@{largest}", backend, "cpu")
        found.append(
            Goal(f"{backend} items.list CPU {largest} / {smallest} items", median_of(growth), 1.1)
        )
    for backend, limit in (("sqlite", 0.012), ("postgres", 0.014)):
        value = median_of(results.paired_ratio("turn", backend, "cpu"))
        found.append(Goal(f"{backend} streamed turn server CPU vs quickstart", value, 0.9))
        overhead = median_of(results.summary("turn", backend, "overhead"))
        found.append(
            Goal(f"{backend} turn overhead over the model, p50", overhead, limit, True, "ms")
        )
    most = max(config.concurrency)
    for backend in ("sqlite", "postgres"):
        rounds = results.figures.get(f"concurrent@{most}", {}).get(backend, [])
        errors = sum(r["errors"] for r in rounds) if rounds else None
        found.append(Goal(f"{backend} errors in {most} concurrent turns", errors, 0, unit="n"))
    return found


def render_report(results: Results, config: Config, extra: dict[str, Any]) -> str:
    layout = config.layout
    lines = [
        f"# chatkit-scaffold bench ({config.mode}): generated backends vs the docs' quickstart",
        "",
        f"Versions: {', '.join(f'{k} {v}' for k, v in extra['versions'].items())}; "
        f"Python {extra['machine']['python']}; {extra['machine']['cpus']} CPUs, load "
        f"{extra['machine']['load_before'][0]:.1f} before, "
        f"{extra['machine']['load_after'][0]:.1f} after. "
        f"{len(results.figures.get('turn', {}).get(BASELINE, []))} rounds; figures are medians "
        "over rounds (lowest-highest round); ratios are taken round by round.",
        f"Fake model: first delta after {config.timing.first_token_ms:.0f} ms, "
        f"{config.timing.tokens} deltas {config.timing.token_ms:.0f} ms apart "
        f"(model time {config.timing.model_seconds * 1000:.0f} ms).",
        "",
    ]
    measures = [(key, label) for key, label, _ in json_measures(layout)]
    lines += ["## Server CPU per JSON request (ms)", ""]
    lines += [figure_table(results, measures, "cpu"), ""]
    lines += ["## Wall time per JSON request (ms, client-side, median of each batch)", ""]
    lines += [figure_table(results, measures, "wall"), ""]
    smallest, largest = min(layout.sizes), max(layout.sizes)
    growth_rows = []
    for backend in results.backends:
        row = [backend]
        for metric in ("cpu", "wall"):
            growth = results.growth(
                f"items.list@{smallest}", f"items.list@{largest}", backend, metric
            )
            row.append(
                f"{growth.median:.2f}x ({growth.low:.2f}-{growth.high:.2f})" if growth else "-"
            )
        growth_rows.append(row)
    lines += [f"## Growth of items.list from {smallest:,} to {largest:,} items", ""]
    lines += [markdown_table(["", "server CPU", "wall"], growth_rows), ""]
    turn_rows = [
        ("ttfd", "time to first delta"),
        ("ttfd_overhead", "time to first delta minus the model's"),
        ("wall", "turn time"),
        ("overhead", "turn time minus the model's"),
        ("cpu", "server CPU per turn"),
    ]
    lines += ["## Streamed turns, one at a time (ms)", ""]
    lines += [_metric_rows(results, "turn", turn_rows), ""]
    for count in config.concurrency:
        key = f"concurrent@{count}"
        lines += [f"## {count} concurrent streamed turns", ""]
        lines += [
            _metric_rows(
                results,
                key,
                [
                    ("errors", "errors per round"),
                    ("wall", "turn time p50 (ms)"),
                    ("wall_p95", "turn time p95 (ms)"),
                    ("ttfd_p95", "time to first delta p95 (ms)"),
                    ("cpu", "server CPU per turn (ms)"),
                    ("rss_peak_mib", "peak RSS (MiB)"),
                    ("rss_growth_mib", "RSS growth during the batch (MiB)"),
                ],
            ),
            "",
        ]
    most = max(config.concurrency)
    key = f"processes@{most}"
    if key in results.figures:
        rows = []
        for metric, label, unit in (
            ("errors", "errors per round", "n"),
            ("wall", "turn time p50 (ms)", "ms"),
            ("wall_p95", "turn time p95 (ms)", "ms"),
            ("cpu", "server CPU per turn, all processes (ms)", "ms"),
            ("rss_peak_mib", "peak RSS, all processes (MiB)", "n"),
            ("cross_reads_ok", "turns read back through the other process", "n"),
        ):
            row = [label]
            for name in ("postgres", "postgres x2"):
                row.append(cell(results.summary(key, name, metric), unit))
            ratio = results.paired_ratio(key, "postgres x2", metric, baseline="postgres")
            row.append(cell(ratio, "x") if metric not in ("errors", "cross_reads_ok") else "")
            rows.append(row)
        lines += [f"## {most} concurrent turns on two app processes sharing one PostgreSQL", ""]
        lines += [markdown_table(["", "1 process", "2 processes", "2 / 1"], rows), ""]
    lines += before_after(results, measures, config)
    lines += ["## Targets", ""]
    lines += [goal.line() for goal in goals(results, config)]
    if results.notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in results.notes]
    return "\n".join(lines)


def before_after(
    results: Results, measures: Sequence[tuple[str, str]], config: Config
) -> list[str]:
    """``sqlite`` against ``sqlite@<ref>`` (``--before``), round by round, if it ran."""
    old = next((b for b in results.backends if b.startswith("sqlite@")), None)
    if old is None:
        return []
    rows = []
    keyed = [
        *((key, label, "cpu") for key, label in measures),
        *((key, label, "wall") for key, label in measures),
        ("turn", "streamed turn", "cpu"),
        ("turn", "streamed turn", "overhead"),
        ("turn", "streamed turn", "ttfd_overhead"),
        *((f"concurrent@{n}", f"{n} concurrent turns", "cpu") for n in config.concurrency),
        *((f"concurrent@{n}", f"{n} concurrent turns", "wall_p95") for n in config.concurrency),
    ]
    for key, label, metric in keyed:
        mine, theirs = results.summary(key, "sqlite", metric), results.summary(key, old, metric)
        if mine is None or theirs is None:
            continue
        row = [f"{label}: {metric}", cell(theirs), cell(mine)]
        row.append(cell(results.paired_ratio(key, "sqlite", metric, baseline=old), "x"))
        rows.append(row)
    header = ["figure (ms)", old, "sqlite (this checkout)", "this / before"]
    return [
        f"## Before and after: SQLite project of {old} against this checkout",
        "",
        markdown_table(header, rows),
        "",
    ]


def _metric_rows(results: Results, measure: str, metrics: Sequence[tuple[str, str]]) -> str:
    """Rows of several metrics of one measure: backends, then ratios to the baseline."""
    others = [b for b in results.backends if b != BASELINE]
    header = ["", *results.backends, *(f"{b} / {BASELINE}" for b in others)]
    rows = []
    for metric, label in metrics:
        unit = "n" if metric.startswith(("errors", "rss")) else "ms"
        row = [label]
        row += [cell(results.summary(measure, b, metric), unit) for b in results.backends]
        if metric in ("errors", "unmatched"):
            row += ["" for _ in others]
        else:
            row += [cell(results.paired_ratio(measure, b, metric), "x") for b in others]
        rows.append(row)
    return markdown_table(header, rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke test, about two minutes")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--keep", action="store_true", help="keep the projects and logs")
    parser.add_argument("--max-minutes", type=float, help="time budget of the measuring rounds")
    parser.add_argument(
        "--before",
        metavar="REF",
        help="also run a SQLite project generated by the tool at this git ref, side by side",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="instead of figures, cProfile each server (writes <out>/profile-<mode>/*.txt)",
    )
    args = parser.parse_args(argv)
    config = QUICK if args.quick else FULL
    if args.max_minutes is not None:
        config = replace(config, max_minutes=args.max_minutes)
    config.check()
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="chatkit-bench-"))
    try:
        profile = args.out / f"profile-{config.mode}" if args.profile else None
        run_bench(config, args.out, work, profile, args.before)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
