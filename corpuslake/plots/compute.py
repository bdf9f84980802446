"""A dump's distributions, computed in one streaming pass per table version.

- ``filtered``: every numeric filter signal (and the language score), kept (the ``filtered`` rows)
  against dropped by the filters (the ``rejections`` of stage ``filtered``, whose ``signals`` JSON holds
  the same values), with the thresholds of the config that version was written with;
- ``scored``: the quality score, with each covering snapshot's cut;
- ``content_signals``: its numeric columns (personal data, bad words, benchmark overlap), with caps;
- documents per registered and top-level domain, kept (in the last stage written) against dropped;
- the funnel: documents, kept by the filters, after dedup, scored, and in each snapshot.

Each table is read a batch at a time with the dump pushed down to the files; only the bins and the
domains' partial counts (in DuckDB, spilling) are kept, so memory does not grow with the dump.
"""

import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.json as pajson

from corpuslake import scan
from corpuslake.catalog import Catalog
from corpuslake.memory import release_memory
from corpuslake.names import check_name
from corpuslake.plots import PARTS, Part
from corpuslake.plots.bins import Histogram, Threshold, new_histograms, numeric_columns
from corpuslake.plots.domains import DomainCount, DomainCounter
from corpuslake.plots.thresholds import filter_thresholds, snapshot_thresholds
from corpuslake.store import Lake

STAGES = ("documents", "filtered", "deduplicated", "scored")
# Provenance and size columns are not signals a filter or a cut reads.
_NOT_SIGNALS = ("warc_offset", "html_bytes", "replaced_fraction", "text_chars", "original_chars")
_BATCH_ROWS = 8192


@dataclass(frozen=True)
class FunnelStep:
    label: str
    source: str
    """The table version counted (``scored@v5``), or the pin (``corpuslake://web-en@2``)."""
    documents: int


@dataclass
class Distributions:
    """Everything plotted for one dump."""

    dump: str
    versions: dict[str, int]
    """The table versions read."""
    histograms: dict[str, dict[str, Histogram]] = field(default_factory=dict)
    """Per table (``filtered``, ``scored``, ``content_signals``), per column."""
    domains: dict[str, tuple[list[DomainCount], DomainCount, int]] = field(default_factory=dict)
    """Per ``registered`` / ``tld``: the top domains, the rest as ``(other)``, the distinct count."""
    kept_in: str = ""
    """The table version whose documents count as kept for the domains."""
    funnel: list[FunnelStep] = field(default_factory=list)


def _batches(
    lake: Lake, table: str, version: int, dump: str, columns: list[str], stage: str | None = None
) -> Iterator[pa.Table]:
    """The dump's rows of ``columns`` (of one ``stage`` of a table partitioned by it), a row group at a time:
    a dataset scanner reads several row groups ahead, this reads one, and hands its memory back after it."""
    for group in lake.row_groups(table, version, check_name(dump, "dump")):
        if stage is not None and dict(group.partition).get("stage") != stage:
            continue
        yield from group.batches(columns, _BATCH_ROWS)
        pa.default_memory_pool().release_unused()  # else every row group's pages stay with the allocator


def dump_distributions(
    lake: Lake,
    dump: str,
    *,
    versions: Mapping[str, int] | None = None,
    parts: Sequence[Part] = PARTS,
    top_domains: int = 30,
) -> Distributions:
    """The distributions of ``dump`` from the given table versions (default: each table's latest); only
    ``parts`` are computed (an asset asks for its own table's)."""
    wanted = (*STAGES, "rejections", "content_signals")
    chosen = {t: (versions or {}).get(t, lake.version(t)) for t in wanted}
    present = {t: v for t, v in chosen.items() if v is not None and _has_dump(lake, t, v, dump)}
    result = Distributions(dump, present)
    if "filtered" in parts and "filtered" in present:
        result.histograms["filtered"] = _filter_histograms(lake, dump, present)
        release_memory()  # each part's peak its own: the allocators keep what the last part freed
    snapshot_cuts = snapshot_thresholds(lake, dump)
    for table, column_filter in (("scored", ("quality_score",)), ("content_signals", None)):
        if table in parts and table in present:
            result.histograms[table] = _table_histograms(
                lake, table, present[table], dump, snapshot_cuts, column_filter
            )
            release_memory()
    if "funnel" in parts:
        result.funnel = _funnel(lake, dump, present)
    if "domains" in parts and "documents" in present:
        _count_domains(lake, dump, present, result, top_domains)
        release_memory()
    return result


def _has_dump(lake: Lake, table: str, version: int, dump: str) -> bool:
    """Whether the version holds rows of ``dump`` (its partition values say, without reading a file)."""
    return dump in lake.dumps(table, version)


def _filter_histograms(lake: Lake, dump: str, versions: Mapping[str, int]) -> dict[str, Histogram]:
    version = versions["filtered"]
    schema = lake.dataset("filtered", version).schema
    columns = ["language_score", *numeric_columns(schema, exclude=(*_NOT_SIGNALS, "language_score"))]
    thresholds = filter_thresholds(lake.lineage("filtered", version).config)
    source = f"filtered@v{version}"
    if "rejections" in versions:
        source += f" + rejections@v{versions['rejections']} (stage filtered)"
    histograms = new_histograms(schema, columns, source, thresholds)
    for batch in _batches(lake, "filtered", version, dump, columns):
        for column, histogram in histograms.items():
            histogram.add("kept", batch.column(column))
    if "rejections" in versions:
        parse = pajson.ParseOptions(
            explicit_schema=pa.schema([(c, pa.float64()) for c in columns]), unexpected_field_behavior="ignore"
        )
        for batch in _batches(lake, "rejections", versions["rejections"], dump, ["signals"], "filtered"):
            texts = [t for t in batch.column("signals").to_pylist() if t]
            if not texts:
                continue
            values = pajson.read_json(pa.BufferReader("\n".join(texts).encode()), parse_options=parse)
            for column, histogram in histograms.items():
                histogram.add("dropped", values.column(column))
    for histogram in histograms.values():  # a series with no rows still shows, as zeros
        for series in ("kept", "dropped"):
            histogram.add(series, pa.array([], pa.float64()))
    return histograms


def _table_histograms(
    lake: Lake, table: str, version: int, dump: str, cuts: Mapping[str, list[Threshold]], only: tuple[str, ...] | None
) -> dict[str, Histogram]:
    schema = lake.dataset(table, version).schema
    columns = list(only) if only else numeric_columns(schema, exclude=_NOT_SIGNALS)
    histograms = new_histograms(schema, columns, f"{table}@v{version}", cuts)
    for batch in _batches(lake, table, version, dump, columns):
        for column, histogram in histograms.items():
            histogram.add("documents", batch.column(column))
    for histogram in histograms.values():
        histogram.add("documents", pa.array([], pa.float64()))
    return histograms


def _funnel(lake: Lake, dump: str, versions: Mapping[str, int]) -> list[FunnelStep]:
    labels = {"documents": "documents", "filtered": "kept by the filters", "deduplicated": "after dedup"}
    steps = []
    for table in STAGES:
        if table in versions:
            count = scan.count(lake.dataset(table, versions[table]), {"dump": dump})
            steps.append(FunnelStep(labels.get(table, table), f"{table}@v{versions[table]}", count))
    latest = {e.name: e for e in Catalog(lake).entries() if e.kind == "snapshot"}
    for name in sorted(latest):
        in_dump = latest[name].report.get("by_dump", {}).get(dump)
        if in_dump is not None:
            steps.append(FunnelStep(f"snapshot {name}", latest[name].uri, int(in_dump["documents"])))
    return steps


def _count_domains(lake: Lake, dump: str, versions: Mapping[str, int], result: Distributions, top: int) -> None:
    last = next(t for t in reversed(STAGES) if t in versions)
    result.kept_in = f"{last}@v{versions[last]}"
    with tempfile.TemporaryDirectory(prefix="corpuslake-domains-") as spill:
        counter = DomainCounter(Path(spill))
        try:
            for side, table in (("all", "documents"), ("kept", last)):
                for batch in _batches(lake, table, versions[table], dump, ["url"]):
                    counter.add(side, batch.column("url").to_pylist())
            result.domains = {column: counter.top(column, top) for column in ("registered", "tld")}
        finally:
            counter.close()
