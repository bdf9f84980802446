"""Where publishing's memory and CPU go in the publishing process: peak RSS and CPU seconds per phase.

Publishes every snapshot definition, then every mixture recipe, of ``--datasets`` in one child process
(as the ``snapshots`` and ``mixtures`` steps of a run do in the driver), with the lake's catalog,
published tables and text caches removed first (a first publication). The child wraps publishing's
phases (selection: filter and cut, the cached-values join, staging, the key sort, bucket distribution and
sorts, the cross-dump pass; then the workers' file jobs, the content hash of the stored files, the
audits and the catalog; for a mixture the draw columns, shuffle keys and the fetch) and records, per
phase, the process's peak RSS (its kernel high-water mark, reset at every phase boundary, so a figure
is the phase's own), the largest anonymous and file-backed shares seen by a 20 ms sampler (file-backed
is memory-mapped files), and this process's CPU seconds. Pool workers' CPU is given as a total.

With more than one worker a snapshot's rows are selected in a process of their own, as in a run
(:mod:`corpuslake.fresh`): each selecting process reports its own peak RSS and CPU seconds, and its
inner phases are not seen. ``--select-here`` selects in the publishing process instead, so the selection's
phases (filter and cut, the cached-values join, staging, the key sort, bucket distribution and sorts,
the cross-dump pass) are measured one by one, as before.

Input: ``--lake`` (a lake after ingestion, copied into a scratch folder), or ``--synthetic N``: the
scored table of ``bench/publish_scale.py`` with N documents in two dumps, texts of ``--chars``
characters of real prose (the scale bench crawl's documents average 6.2k), and definitions over it
without content policies (``web-en``: all, ``web-en-hq``: top 30%), and the sample mixture recipe.

    python bench/publish_memory.py --lake <lake> [--datasets samples/datasets] [--workers 2] [--select-here]
    python bench/publish_memory.py --synthetic 25000 100000 [--chars 6000] [--seed-token-counts] [--keep DIR]
        [--memory-limit 512MB]

``--seed-token-counts`` fills the token-count cache from the texts' lengths before publishing, so
the workers count nothing (the publishing process's figures do not depend on it; it saves the
workers' hour at large sizes). Figures only: nothing is asserted.
"""

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

_PHASES = {
    "corpuslake.datasets": ["select_snapshot", "build_mixture", "publish"],
    "corpuslake.selection": ["_filter", "_apply_policies", "with_cached", "drop_duplicates", "copy_without_dropped"],
    "corpuslake.widesort": ["write_unordered", "_bounds", "_distribute", "sort_file"],
    "corpuslake.publish": ["_write", "_stored_content", "_audit_rows", "_audit_ids", "_audit_nulls"],
    "corpuslake.mixtures": ["draw_columns", "_shuffle_keys", "_draw_table", "fetch_in_order"],
}


def _status() -> dict[str, int]:
    found: dict[str, int] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
            found[key] = int(value.split()[0]) * 1024
    return found


class Phases:
    """Per phase: peak RSS (high-water mark between boundaries), sampled anon/file peaks, CPU seconds."""

    def __init__(self) -> None:
        self.stack: list[str] = []
        self.figures: dict[str, dict[str, float]] = {}
        self.lock = threading.Lock()
        self.order: list[str] = []
        self.apart: list[tuple[int, float]] = []
        """Peak RSS and CPU seconds of each selection run in a process of its own."""

    def _boundary(self) -> None:
        """The high-water mark since the last boundary goes to every open phase; then it is reset."""
        hwm = _status()["VmHWM"]
        for name in self.stack:
            entry = self.figures[name]
            entry["peak"] = max(entry["peak"], hwm)
        with contextlib.suppress(OSError):
            Path("/proc/self/clear_refs").write_text("5")

    def sample(self, stop: threading.Event) -> None:
        while not stop.wait(0.02):
            status = _status()
            with self.lock:
                for name in self.stack:
                    entry = self.figures[name]
                    entry["anon"] = max(entry["anon"], status.get("RssAnon", 0))
                    entry["file"] = max(entry["file"], status.get("RssFile", 0))

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        with self.lock:
            self._boundary()
            if name not in self.figures:
                self.figures[name] = {"peak": 0, "anon": 0, "file": 0, "cpu": 0.0, "calls": 0, "depth": len(self.stack)}
                self.order.append(name)
            self.stack.append(name)
        start = time.process_time()
        try:
            yield
        finally:
            with self.lock:
                self._boundary()
                self.figures[name]["cpu"] += time.process_time() - start
                self.figures[name]["calls"] += 1
                self.stack.pop()


def _wrap(phases: Phases, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with phases.phase(label):
            return function(*args, **kwargs)

    return wrapped


def _instrument(phases: Phases) -> None:
    import importlib

    from corpuslake.catalog import Catalog

    for module_name, names in _PHASES.items():
        module = importlib.import_module(module_name)
        for name in names:
            original = getattr(module, name, None)
            if original is None:  # a phase of another version of the code
                continue
            wrapped = _wrap(phases, f"{module_name.split('.')[-1]}.{name}", original)
            setattr(module, name, wrapped)
            # the same function imported by name into the modules that call it
            for other in (
                "corpuslake.selection",
                "corpuslake.mixtures",
                "corpuslake.mixture_rows",
                "corpuslake.datasets",
            ):
                target = importlib.import_module(other)
                if getattr(target, name, None) is original:
                    setattr(target, name, wrapped)
    Catalog.record = _wrap(phases, "catalog.record", Catalog.record)  # type: ignore[method-assign]


def _measured_apart(task: tuple[Callable[[Any], Any], Any]) -> tuple[Any, int, float]:
    """Run in the selecting process: the job's result, this process's peak RSS and CPU seconds."""
    from corpuslake.fresh import peak_rss

    fn, job = task
    result = fn(job)
    me = resource.getrusage(resource.RUSAGE_SELF)
    return result, peak_rss(), me.ru_utime + me.ru_stime


def _apart(phases: Phases, select_here: bool) -> None:
    """Selections in processes of their own report their peak and CPU (or, ``select_here``, run here)."""
    import corpuslake.datasets
    from corpuslake.fresh import in_fresh_process

    def run_apart(fn: Callable[[Any], Any], job: Any, workers: object) -> Any:
        if select_here or (isinstance(workers, int) and workers <= 1):
            return fn(job)
        result, peak, cpu = in_fresh_process(_measured_apart, (fn, job))
        phases.apart.append((peak, cpu))
        return result

    corpuslake.datasets.run_apart = run_apart  # type: ignore[attr-defined]


def child(lake_path: str, datasets: str, workers: int, memory_limit: str, select_here: bool) -> None:
    phases = Phases()
    _instrument(phases)
    _apart(phases, select_here)
    from corpuslake.datasets import load_definitions
    from corpuslake.parallel import shutdown_pools
    from corpuslake.spill import SpillConfig
    from corpuslake.store import Lake

    stop = threading.Event()
    sampler = threading.Thread(target=phases.sample, args=(stop,), daemon=True)
    sampler.start()
    with phases.phase("whole process"):
        spill = SpillConfig(memory_limit=memory_limit)
        published = _publish_all(phases, Lake(lake_path), load_definitions(datasets), workers, spill)
        shutdown_pools()
    stop.set()
    sampler.join()
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        json.dumps(
            {
                "published": published,
                "phases": [{"name": n, **phases.figures[n]} for n in phases.order],
                "cpu_self": me.ru_utime + me.ru_stime,
                "cpu_workers": kids.ru_utime + kids.ru_stime,
                "peak_self": me.ru_maxrss * 1024,
                "apart": phases.apart,
            }
        )
    )


def _publish_all(
    phases: Phases, lake: Any, definitions: Any, workers: int, spill: Any
) -> list[tuple[str, int, int, str]]:
    from corpuslake.datasets import publish_mixture, publish_snapshot
    from corpuslake.tokens import default_tokenizer

    with phases.phase("tokenizer"):
        default_tokenizer()
    published = []
    for definition in sorted(definitions.snapshots, key=lambda d: d.name):
        with phases.phase(f"snapshot {definition.name}"):
            entry = publish_snapshot(lake, definition, "bench", workers=workers, spill=spill).entry
        published.append((entry.uri, entry.documents, entry.tokens, entry.content_sha256))
    for recipe in sorted(definitions.mixtures, key=lambda r: r.name):
        with phases.phase(f"mixture {recipe.name}"):
            entry = publish_mixture(lake, recipe, "bench", workers=workers, spill=spill).entry
        published.append((entry.uri, entry.documents, entry.tokens, entry.content_sha256))
    return published


def _clear(lake: Path) -> None:
    for folder in ("catalog", "snapshots", "_staging", "_cache/token_counts", "_cache/exact_keys"):
        shutil.rmtree(lake / folder, ignore_errors=True)


_SYNTHETIC = {
    "snapshots/web-en.yaml": "name: web-en\nsource: scored\nlanguages: [en]\n",
    "snapshots/web-en-hq.yaml": "name: web-en-hq\nsource: scored\nlanguages: [en]\nquality_top_percent: 30\n",
}


def _synthetic(root: Path, size: int, chars: int) -> Path:
    """A lake with the synthetic scored table, and the definitions folder for it."""
    import publish_scale

    from corpuslake.store import Lake

    publish_scale.build(Lake(str(root / "lake")), size, chars=chars)
    folder = root / "datasets"
    for name, text in _SYNTHETIC.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    (folder / "mixtures").mkdir(exist_ok=True)
    shutil.copy(ROOT / "samples" / "datasets" / "mixtures" / "web-mix.yaml", folder / "mixtures")
    return folder


def _seed_token_counts(lake_path: Path) -> None:
    """Token counts of every scored text, from its length (characters / 4.5), in the lake's cache."""
    import pyarrow.compute as pc

    from corpuslake.store import Lake
    from corpuslake.text_cache import record, text_key, token_counts
    from corpuslake.tokens import default_tokenizer

    lake = Lake(str(lake_path))
    cache = token_counts(lake, default_tokenizer().info.sha256)
    dataset = lake.dataset("scored", lake.version("scored"))
    for index, batch in enumerate(dataset.to_batches(columns=["text"], batch_size=50_000)):
        texts = batch.column(0).to_pylist()
        counts = pc.floor(pc.divide(pc.utf8_length(batch.column(0)), 4.5)).to_pylist()
        record(cache, f"seed-{index:05d}", [text_key(t) for t in texts], [max(1, int(c)) for c in counts])


def report(title: str, found: dict[str, Any]) -> None:
    mib = 2**20
    print(f"\n== {title}")
    for uri, documents, tokens, content in found["published"]:
        print(f"  {uri:<16} {documents:>9,} docs {tokens:>13,} tokens content {content[:16]}")
    # The rusage peak of a child started by fork and exec counts its parent's pages until the exec: the
    # high-water marks read by the child itself are the figure.
    peak = max(p["peak"] for p in found["phases"])
    print(
        f"  publishing process: CPU {found['cpu_self']:.1f} s, peak RSS {peak / mib:,.0f} MiB; "
        f"child processes CPU {found['cpu_workers']:.1f} s"
    )
    if found["apart"]:
        peaks, cpus = [p for p, _ in found["apart"]], [c for _, c in found["apart"]]
        print(
            f"  selecting processes ({len(peaks)}): largest peak RSS {max(peaks) / mib:,.0f} MiB, "
            f"CPU {sum(cpus):.1f} s (in the child processes' CPU; the rest is pool workers)"
        )
    print(f"  {'phase':<40} {'calls':>5} {'peak MiB':>9} {'anon':>6} {'file':>6} {'CPU s':>7}")
    for p in found["phases"]:
        name = "  " * int(p["depth"]) + p["name"]
        print(
            f"  {name:<40} {p['calls']:>5} {p['peak'] / mib:>9,.0f} {p['anon'] / mib:>6,.0f} "
            f"{p['file'] / mib:>6,.0f} {p['cpu']:>7.1f}"
        )


def measure(lake: Path, datasets: Path, args: argparse.Namespace) -> dict[str, Any]:
    _clear(lake)
    if args.seed_token_counts:
        _seed_token_counts(lake)
    command = [sys.executable, __file__, "--child", str(lake), str(datasets), str(args.workers), args.memory_limit]
    command += ["here"] if args.select_here else ["apart"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"child failed:\n{done.stderr[-4000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", type=Path)
    parser.add_argument("--datasets", type=Path, default=ROOT / "samples" / "datasets")
    parser.add_argument("--synthetic", type=int, nargs="+", default=[])
    parser.add_argument("--chars", type=int, default=6000)
    parser.add_argument("--seed-token-counts", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scratch", type=Path, default=ROOT.parent)
    parser.add_argument("--keep", type=Path, help="build synthetic lakes under this folder once, and reuse them")
    parser.add_argument("--memory-limit", default="512MB", help="DuckDB's memory limit (SpillConfig)")
    parser.add_argument("--select-here", action="store_true", help="select in the publishing process")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]), args.child[3], args.child[4] == "here")
        return
    print(f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    if args.lake:
        with tempfile.TemporaryDirectory(prefix="publish-memory-", dir=args.scratch) as scratch:
            lake = Path(scratch) / "lake"
            shutil.copytree(args.lake, lake)
            report(str(args.lake), measure(lake, args.datasets, args))
    for size in args.synthetic:
        title = f"synthetic {size:,} documents, {args.chars:,} characters each"
        if args.keep:  # built once, measured again by later invocations
            root = args.keep / f"{size}-{args.chars}"
            datasets = root / "datasets"
            if not datasets.is_dir():
                shutil.rmtree(root, ignore_errors=True)
                _synthetic(root, size, args.chars)
            report(title, measure(root / "lake", datasets, args))
            continue
        with tempfile.TemporaryDirectory(prefix="publish-memory-", dir=args.scratch) as scratch:
            datasets = _synthetic(Path(scratch), size, args.chars)
            report(title, measure(Path(scratch) / "lake", datasets, args))


if __name__ == "__main__":
    main()
