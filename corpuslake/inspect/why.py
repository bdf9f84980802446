"""``why``: where one document of a dump went, stage by stage.

A document is found by id or URL in ``documents`` and in the documents stage's rejections (a scan with
the filter pushed down, never a table load); a URL found nowhere was never crawled. Each stage then says
what it did with it: dropped (the deciding rule, the values it measured and the thresholds of the run
that decided, from that commit's lineage), merged into a duplicate cluster (with the member kept), kept;
and each published snapshot says whether it holds it, or which rule of its definition cut it
(:mod:`corpuslake.inspect.pinned`).
"""

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import pyarrow.dataset as pads

from corpuslake.inspect.samples import UNIT_SIGNALS, deciding_detail
from corpuslake.inspect.scan import both, dump_filter, partition_lineage, rows_by_id, stream
from corpuslake.store import Lake

Outcome = Literal["extracted", "dropped", "passed", "merged", "kept", "scored", "absent", "not_run", "in_pin", "cut"]
_REJECTION = ["id", "dump", "url", "stage", "filter", "reason", "detail", "signals"]


@dataclass
class Step:
    """What one stage (or one published snapshot) did with the document."""

    stage: str
    outcome: Outcome
    detail: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class Trail:
    """One document of one dump, followed through the stages."""

    id: str
    dump: str
    url: str | None
    steps: list[Step] = field(default_factory=list)

    @property
    def stopped(self) -> bool:
        """Whether a stage dropped it, merged it away, lost it, or has not run for its dump yet."""
        return any(s.outcome in ("dropped", "merged", "absent", "not_run") and s.stage != "scored" for s in self.steps)

    @property
    def verdict(self) -> str:
        """Where the document went, in one line."""
        for step in self.steps:
            if step.outcome in ("dropped", "merged", "absent") or (
                step.outcome == "not_run" and step.stage != "scored"
            ):
                return f"{step.stage}: {step.detail}"
        pins = [s.stage for s in self.steps if s.outcome == "in_pin"]
        cuts = [s.detail for s in self.steps if s.outcome == "cut"]
        if pins:
            return f"kept, in {', '.join(pins)}" + (f"; {'; '.join(cuts)}" if cuts else "")
        if cuts:
            return f"kept by every stage; {'; '.join(cuts)}"
        return "kept by every stage, in no published snapshot checked"


@dataclass
class WhyReport:
    target: str
    trails: list[Trail]

    @property
    def never_crawled(self) -> bool:
        return not self.trails

    def as_json(self) -> dict[str, Any]:
        trails = [asdict(t) | {"verdict": t.verdict} for t in self.trails]
        return {"target": self.target, "never_crawled": self.never_crawled, "documents": trails}


def locate(lake: Lake, target: str, dump: str | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The documents a URL or id names (rows of ``documents``) and its records the documents stage dropped."""
    key = "url" if "://" in target else "id"
    where = both(pads.field(key) == target, dump_filter(dump))
    docs: list[dict[str, Any]] = []
    if lake.version("documents") is not None:
        for batch in stream(
            lake, "documents", _latest(lake, "documents"), where, ["id", "dump", "url", "language", "language_score"]
        ):
            docs.extend(batch.to_pylist())
    dropped: list[dict[str, Any]] = []
    if lake.version("rejections") is not None:
        early = both(where, pads.field("stage") == "documents")
        for batch in stream(lake, "rejections", _latest(lake, "rejections"), early, _REJECTION):
            dropped.extend(batch.to_pylist())
    return docs, dropped


def follow(lake: Lake, target: str, dump: str | None = None) -> WhyReport:
    """Every document ``target`` names (a URL can be in several dumps), each followed through its dump's stages."""
    docs, dropped = locate(lake, target, dump)
    trails = []
    for row in sorted(dropped, key=lambda r: (r["dump"], r["id"])):
        trail = Trail(row["id"], row["dump"], row["url"])
        code = f"{row['filter']}/{row['reason']}"
        trail.steps.append(
            Step("documents", "dropped", f"record dropped by {code}: {row['detail']}", {"decision": code})
        )
        trails.append(trail)
    for doc in sorted(docs, key=lambda r: (r["dump"], r["id"])):
        trail = Trail(doc["id"], doc["dump"], doc["url"])
        language = f"language {doc['language']} ({doc['language_score']:.2f})"
        trail.steps.append(Step("documents", "extracted", f"extracted, {language}"))
        for stage in (_filtered, _deduplicated, _scored):
            trail.steps.append(stage(lake, trail))
            if trail.stopped:
                break
        trails.append(trail)
    return WhyReport(target, trails)


def _latest(lake: Lake, table: str) -> int:
    return int(lake.version(table) or 0)


def _long_list(value: Any) -> bool:
    return isinstance(value, list) and len(value) > 8


def _rejection(lake: Lake, trail: Trail, stage: str) -> dict[str, Any] | None:
    where = both(pads.field("id") == trail.id, pads.field("stage") == stage, dump_filter(trail.dump))
    for batch in stream(lake, "rejections", _latest(lake, "rejections"), where, _REJECTION):
        return dict(batch.to_pylist()[0])
    return None


def _not_run(lake: Lake, table: str, trail: Trail) -> Step | None:
    if lake.has_written(table, trail.dump):
        return None
    return Step(table, "not_run", f"{table} has not run for dump {trail.dump}")


def _filtered(lake: Lake, trail: Trail) -> Step:
    if (missing := _not_run(lake, "filtered", trail)) is not None:
        return missing
    version = _latest(lake, "filtered")
    rejected = _rejection(lake, trail, "filtered")
    if rejected is not None:
        code = f"{rejected['filter']}/{rejected['reason']}"
        stored = json.loads(rejected["signals"] or "{}")
        decided = partition_lineage(lake, "filtered", trail.dump)
        unit_config = decided.config.get(rejected["filter"], {}) if decided is not None else {}
        values = {
            "decision": code,
            "measured": {n: stored[n] for n in UNIT_SIGNALS.get(rejected["filter"], []) if n in stored},
            # the unit's settings in the run that decided (long word lists left out: they are not thresholds)
            "thresholds": {k: v for k, v in unit_config.items() if k != "enabled" and not _long_list(v)},
            "every_failure": stored.get("flags", []),
        }
        return Step("filtered", "dropped", f"dropped by {code}: {deciding_detail(rejected['detail'], code)}", values)
    row = rows_by_id(lake, "filtered", version, [trail.id], ["flags"], trail.dump).get(trail.id)
    if row is None:
        return Step(
            "filtered", "absent", f"not in filtered@v{version} nor in its rejections (documents changed since?)"
        )
    flags = list(row["flags"] or [])
    note = f" (fails switched-off rules: {', '.join(flags)})" if flags else ""
    return Step("filtered", "passed", f"passed every enabled filter{note}", {"flags": flags})


def _deduplicated(lake: Lake, trail: Trail) -> Step:
    if (missing := _not_run(lake, "deduplicated", trail)) is not None:
        return missing
    version = _latest(lake, "deduplicated")
    rejected = _rejection(lake, trail, "deduplicated")
    if rejected is not None:
        signals = json.loads(rejected["signals"] or "{}")
        if rejected["reason"] == "paragraph_duplicate":
            return Step("deduplicated", "dropped", f"dropped: {rejected['detail']}", signals)
        kept_id = signals.get("cluster_id") or signals.get("duplicate_of")
        kept = rows_by_id(lake, "deduplicated", version, [str(kept_id)], ["url", "dump"]).get(str(kept_id), {})
        signals["kept_url"] = kept.get("url")
        kind = rejected["reason"].removesuffix("_duplicate")
        similarity = f", Jaccard {signals['jaccard']:.3f}" if signals.get("jaccard") is not None else ""
        where = f" of {kept.get('dump')}" if kept.get("dump") not in (None, trail.dump) else ""
        kept_as = f"{kept.get('url') or kept_id}{where}"
        text = f"merged ({kind}) into cluster {kept_id} of {signals.get('cluster_size')}, kept: {kept_as}{similarity}"
        return Step("deduplicated", "merged", text, signals)
    row = rows_by_id(
        lake, "deduplicated", version, [trail.id], ["cluster_id", "cluster_size", "dup_kind"], trail.dump
    ).get(trail.id)
    if row is None:
        return Step("deduplicated", "absent", f"not in deduplicated@v{version} nor in its rejections")
    del row["id"]
    return Step(
        "deduplicated", "kept", f"kept, its cluster has {row['cluster_size']} document(s) ({row['dup_kind']})", row
    )


def _scored(lake: Lake, trail: Trail) -> Step:
    if (missing := _not_run(lake, "scored", trail)) is not None:
        return missing
    version = _latest(lake, "scored")
    row = rows_by_id(lake, "scored", version, [trail.id], ["quality_score", "quality_model"], trail.dump).get(trail.id)
    if row is None:
        return Step("scored", "absent", f"not in scored@v{version}")
    return Step(
        "scored",
        "scored",
        f"quality score {row['quality_score']:.3f}",
        {"quality_score": round(row["quality_score"], 5)},
    )
