"""Drift of a new dump against earlier ones: filter drop rates, the duplicate rate, the mean quality score.

A crawl that changed (a new extractor, a spam wave, a broken language model) shows as a metric far from
what earlier dumps gave. For each metric of a stage, the dump's value is compared with the mean over
the dumps that sort before it (the same notion of "earlier" as incremental dedup); it is out of band
when it differs by more than ``max(abs_tolerance, rel_tolerance * baseline)``. Without earlier dumps
there is nothing to compare and nothing is out of band.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow.compute as pc

from corpuslake import scan
from corpuslake.store import Lake

STAGES = ("filtered", "deduplicated", "scored")


@dataclass(frozen=True)
class DriftConfig:
    abs_tolerance: float = 0.10
    """Allowed absolute difference from the earlier dumps' mean (rates and scores are in [0, 1])."""
    rel_tolerance: float = 0.50
    """Allowed difference relative to the baseline, when larger than ``abs_tolerance``."""


@dataclass(frozen=True)
class MetricDrift:
    metric: str
    value: float
    baseline: float | None  # mean over earlier dumps; None without any
    allowed: float
    out_of_band: bool


def dump_metrics(lake: Lake, stage: str, dump: str) -> dict[str, float]:
    """The drift metrics of one dump for ``stage`` (latest versions of the tables involved)."""
    if stage == "filtered":
        documents = scan.count(lake.dataset("documents"), {"dump": dump})
        rejected = lake.read("rejections", dumps=[dump], columns=["filter"], filters={"stage": "filtered"})
        counts = rejected.group_by("filter").aggregate([("filter", "count")]).to_pylist()
        metrics = {f"drop_rate/{c['filter']}": c["filter_count"] / documents for c in counts} if documents else {}
        kept = scan.count(lake.dataset("filtered"), {"dump": dump})
        metrics["kept_fraction"] = kept / documents if documents else 0.0
        return metrics
    if stage == "deduplicated":
        before = scan.count(lake.dataset("filtered"), {"dump": dump})
        after = scan.count(lake.dataset("deduplicated"), {"dump": dump})
        return {"duplicate_rate": (before - after) / before if before else 0.0}
    if stage == "scored":
        scores = lake.read("scored", dumps=[dump], columns=["quality_score"])["quality_score"]
        return {"mean_quality_score": float(pc.mean(scores).as_py() or 0.0)} if len(scores) else {}
    raise ValueError(f"no drift metrics for {stage!r}; known: {', '.join(STAGES)}")


def earlier_dumps(lake: Lake, stage: str, dump: str) -> list[str]:
    dumps = lake.read(stage, columns=["dump"])["dump"]
    return sorted(d for d in set(dumps.to_pylist()) if d < dump)


def drift(
    lake: Lake, stage: str, dump: str, config: DriftConfig, earlier: Sequence[str] | None = None
) -> list[MetricDrift]:
    """Every metric of ``dump`` against the mean of the earlier dumps."""
    current = dump_metrics(lake, stage, dump)
    history = [
        dump_metrics(lake, stage, d) for d in (earlier if earlier is not None else earlier_dumps(lake, stage, dump))
    ]
    results = []
    for metric in sorted(set(current) | {m for h in history for m in h}):
        value = current.get(metric, 0.0)
        past = [h.get(metric, 0.0) for h in history]
        baseline = sum(past) / len(past) if past else None
        allowed = max(config.abs_tolerance, config.rel_tolerance * abs(baseline or 0.0))
        out = baseline is not None and abs(value - baseline) > allowed
        results.append(
            MetricDrift(
                metric, round(value, 6), None if baseline is None else round(baseline, 6), round(allowed, 6), out
            )
        )
    return results
