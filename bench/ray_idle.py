"""What a Ray driver costs while it waits: CPU seconds per wall second of an idle driver, per setting.

Starts a two-node cluster here (``ray.cluster_utils.Cluster``, a head and a second node with one CPU each,
as bench/stage_transport.py and tests/test_ray.py), then for each setting and each round starts a fresh
driver process that connects with :class:`corpuslake.parallel.RayExecutor` (so corpuslake's
``DRIVER_SETTINGS`` apply where the environment leaves them unset), lets start-up settle, sleeps, and
prints its own CPU seconds (user+sys, all threads) per wall second, its thread count and the CPU of each
thread name (the kernel's per-thread scheduler statistics). The settings' order alternates between rounds.
A driver's CPU while tasks run is this rate times the wall time plus its own work per task, so the rate
is what a slow or shared cluster multiplies.

Settings: ``ray defaults`` (Ray's own values set explicitly, so corpuslake's settings do not apply),
``corpuslake defaults``, each corpuslake setting alone, and the metrics export turned off as well (not a
default: a cluster's own monitoring may read the driver's metrics). ``import ray only``: a process that
imports Ray and never connects.

    python bench/ray_idle.py [--seconds 30] [--rounds 3]
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from corpuslake.parallel import DRIVER_SETTINGS, RayExecutor

RAY_DEFAULTS = {"RAY_task_events_report_interval_ms": "1000", "RAY_event_stats": "1"}
"""Ray's own values of the settings corpuslake changes (ray_config_def.h)."""
SETTINGS: dict[str, dict[str, str]] = {
    "ray defaults": RAY_DEFAULTS,
    "corpuslake defaults": {},
    "task events off only": {**RAY_DEFAULTS, "RAY_task_events_report_interval_ms": "0"},
    "event stats off only": {**RAY_DEFAULTS, "RAY_event_stats": "0"},
    "corpuslake + metrics off": {"RAY_enable_metrics_collection": "0"},
}
assert set(RAY_DEFAULTS) == set(DRIVER_SETTINGS)


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def thread_cpu() -> dict[str, float]:
    """CPU seconds per thread of this process, keyed by name and id."""
    out = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            out[f"{name}:{task.name}"] = int((task / "schedstat").read_text().split()[0]) / 1e9
        except OSError:  # a thread that ended meanwhile
            continue
    return out


def probe(address: str, seconds: float) -> None:
    """The driver side: connect (or only import Ray), settle, sleep, print the figures as JSON."""
    if address:
        RayExecutor(address=address).connect()
    else:
        import ray  # noqa: F401  # the import alone: does it leave threads running?
    time.sleep(2)
    threads, cpu, wall = thread_cpu(), own_cpu(), time.perf_counter()
    time.sleep(seconds)
    after, rate = thread_cpu(), (own_cpu() - cpu) / (time.perf_counter() - wall)
    by_name: dict[str, float] = {}
    for key, value in after.items():
        name = key.split(":")[0]
        by_name[name] = by_name.get(name, 0.0) + value - threads.get(key, 0.0)
    busy = {k: round(v / seconds * 1000, 3) for k, v in sorted(by_name.items(), key=lambda kv: -kv[1]) if v > 1e-4}
    print(json.dumps({"rate": rate, "threads": len(after), "ms_per_s_by_thread": busy}))


def run_probe(address: str, seconds: float, env: dict[str, str]) -> dict[str, object]:
    command = [sys.executable, __file__, "--probe", address, "--seconds", str(seconds)]
    done = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--probe", help=argparse.SUPPRESS)  # the driver process's own entry
    args = parser.parse_args()
    if args.probe is not None:
        probe(args.probe, args.seconds)
        return
    import ray
    from ray.cluster_utils import Cluster

    print(f"Ray {ray.__version__}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    print(f"import ray only: {run_probe('', args.seconds, {})}")
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    rates: dict[str, list[float]] = {name: [] for name in SETTINGS}
    try:
        cluster.add_node(num_cpus=1)
        for number in range(args.rounds):
            order = list(SETTINGS) if number % 2 == 0 else list(reversed(SETTINGS))
            for name in order:
                result = run_probe(cluster.address, args.seconds, SETTINGS[name])
                rates[name].append(float(result["rate"]))  # type: ignore[arg-type]  # JSON number
                print(f"round {number + 1} {name:26} {result}", flush=True)
    finally:
        cluster.shutdown()  # type: ignore[no-untyped-call]  # ray.cluster_utils carries no annotations
    print(f"load average {os.getloadavg()[0]:.1f} at the end; idle driver CPU, ms per wall second:")
    for name, values in rates.items():
        runs = ", ".join(f"{1000 * v:.3f}" for v in values)
        print(f"  {name:26} median {1000 * statistics.median(values):6.3f}  ({runs})")


if __name__ == "__main__":
    main()
