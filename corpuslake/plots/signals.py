"""A dump's stored signals as plots: perplexity per bucket, documents per domain label, perplexity by domain.

From the latest version of each signal table that holds the dump (or the versions given), files go beside
the other plots (:func:`corpuslake.plots.report.plots_root`), one folder per version read::

    perplexity@v3/perplexity.png, .json              histogram per bucket, log x, each language's cutoffs
    domains@v2/domain_labels.png, .json              documents per domain of the domain model, with names
    perplexity@v3+domains@v2/perplexity_by_domain... median and quartiles of perplexity per domain

The cutoffs come from the model facts the perplexity version's lineage records, so a plot shows the
buckets that version was written with. The JSON beside each PNG holds exactly the numbers drawn; a part
that cannot be drawn (its table has no rows of the dump) gets a line saying why instead.
"""

import base64
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import pyarrow.compute as pc

from corpuslake.names import check_name
from corpuslake.plots.report import PlotSet, _write_json, plots_root
from corpuslake.plots.signal_render import BUCKETS, by_domain_png, domains_png, perplexity_png
from corpuslake.spill import SpillConfig, connect
from corpuslake.store import Lake

SignalPart = Literal["perplexity", "domain_labels", "perplexity_by_domain"]
"""What can be drawn: the perplexity histogram, the domain labels, perplexity by domain label."""
SIGNAL_PARTS: tuple[SignalPart, ...] = get_args(SignalPart)
TABLES = ("perplexity", "domains")
BINS_PER_DECADE = 10
TOP_DOMAINS = 40  # one bar per domain; a model with more shows its largest and sums the rest


def signal_versions(lake: Lake, dump: str, versions: Mapping[str, int] | None = None) -> dict[str, int]:
    """The version of each signal table to read: the one given, else the latest; only those holding ``dump``."""
    chosen = {t: (versions or {}).get(t, lake.version(t)) for t in TABLES}
    return {t: v for t, v in chosen.items() if v is not None and dump in lake.dumps(t, v)}


def perplexity_numbers(lake: Lake, dump: str, version: int) -> dict[str, Any]:
    """Documents per log-spaced perplexity bin and bucket, the documents without a perplexity, and each
    language's cutoffs (the model facts in the version's lineage)."""
    rows = lake.read("perplexity", version, dumps=[dump], columns=["perplexity", "perplexity_bucket"])
    values = rows.filter(pc.greater(pc.fill_null(rows["perplexity"], 0.0), 0.0))
    scored = np.asarray(values["perplexity"].to_numpy(zero_copy_only=False), dtype=np.float64)
    low = math.floor(math.log10(scored.min())) if scored.size else 0
    high = max(math.ceil(math.log10(scored.max())) if scored.size else 1, low + 1)
    edges = np.logspace(low, high, (high - low) * BINS_PER_DECADE + 1)
    buckets = values["perplexity_bucket"]
    counts = {b: [int(c) for c in np.histogram(scored[_mask(pc.equal(buckets, b))], bins=edges)[0]] for b in BUCKETS}
    models = lake.lineage("perplexity", version).config.get("models", {})
    cutoffs = {
        language: {"model": info.get("key", ""), "head": info["cutoffs"][0], "middle": info["cutoffs"][1]}
        for language, info in sorted(models.items())
        if len(info.get("cutoffs", ())) == 2
    }
    return {
        "dump": dump,
        "source": f"perplexity@v{version}",
        "edges": [float(e) for e in edges],
        "counts": counts,
        "totals": {b: sum(counts[b]) for b in BUCKETS} | {"no_perplexity": rows.num_rows - values.num_rows},
        "cutoffs": cutoffs,
    }


def domain_numbers(lake: Lake, dump: str, version: int) -> dict[str, Any]:
    """Documents per domain label (largest first, ties by label), the rest summed as ``(other)``."""
    rows = lake.read("domains", version, dumps=[dump], columns=["domain", "domain_name", "domain_model"])
    grouped = rows.group_by(["domain", "domain_name"]).aggregate([([], "count_all")]).to_pylist()
    ranked = sorted(grouped, key=lambda r: (-r["count_all"], str(r["domain"])))
    shown = [{"domain": r["domain"], "name": r["domain_name"], "documents": r["count_all"]} for r in ranked]
    return {
        "dump": dump,
        "source": f"domains@v{version}",
        "models": sorted({str(m) for m in rows["domain_model"].to_pylist()}),
        "distinct": len(ranked),
        "domains": shown[:TOP_DOMAINS],
        "other": sum(r["documents"] for r in shown[TOP_DOMAINS:]),
    }


# The join by id and the quartiles run in DuckDB over the two versions' files, streamed with the dump
# pushed down: an Arrow join of a million ids builds a hash table of several hundred MiB.
_BY_DOMAIN = """
    SELECT l.domain, l.domain_name, count(*) AS documents,
        quantile_cont(p.perplexity, [0.25, 0.5, 0.75]) AS quartiles
    FROM labels AS l JOIN ppl AS p ON l.id = p.id
    WHERE l.dump = $dump AND p.dump = $dump AND p.perplexity IS NOT NULL
    GROUP BY l.domain, l.domain_name ORDER BY documents DESC, l.domain, l.domain_name"""


def by_domain_numbers(lake: Lake, dump: str, versions: Mapping[str, int]) -> dict[str, Any]:
    """Quartiles of perplexity per domain label (the documents with both; numpy's linear percentiles),
    largest domains first."""
    with lake.staging() as scratch:
        con = connect(scratch, SpillConfig(memory_limit="256MB"))
        try:
            con.register("labels", lake.dataset("domains", versions["domains"]))
            con.register("ppl", lake.dataset("perplexity", versions["perplexity"]))
            rows = con.execute(_BY_DOMAIN, {"dump": dump}).fetchall()
            (labelled,) = con.execute("SELECT count(*) FROM labels WHERE dump = $dump", {"dump": dump}).fetchone() or (
                0,
            )
        finally:
            con.close()
    domains = [
        {"domain": domain, "name": name, "documents": int(n), "p25": q[0], "median": q[1], "p75": q[2]}
        for domain, name, n, q in rows[:TOP_DOMAINS]
    ]
    return {
        "dump": dump,
        "sources": [f"domains@v{versions['domains']}", f"perplexity@v{versions['perplexity']}"],
        "domains": domains,
        "without_perplexity": int(labelled) - sum(int(r[2]) for r in rows),
    }


def _mask(selected: Any) -> np.ndarray:
    """A boolean numpy mask of an Arrow comparison (nulls are not selected)."""
    return np.asarray(pc.fill_null(selected, False).to_numpy(zero_copy_only=False), dtype=bool)


def write_signal_plots(
    lake: Lake,
    dump: str,
    *,
    out: str | Path | None = None,
    versions: Mapping[str, int] | None = None,
    parts: Sequence[SignalPart] = SIGNAL_PARTS,
) -> PlotSet:
    """Draw ``parts`` of ``dump`` from the signal tables' versions (:func:`signal_versions`) with their JSON;
    each part that cannot be drawn gets a section saying why. Its sections merge into a dump's plots."""
    present = signal_versions(lake, dump, versions)
    plots = PlotSet(dump, plots_root(lake, out) / check_name(dump, "dump"))
    for part in parts:
        missing = [t for t in _NEEDS[part] if t not in present]
        if missing:
            why = " and ".join(f"no {t} table version holds dump {dump!r}" for t in missing)
            plots.sections[part] = [f"### {_TITLES[part]}", "", f"Not drawn: {why}."]
            continue
        folder = plots.folder / "+".join(f"{t}@v{present[t]}" for t in _NEEDS[part])
        folder.mkdir(parents=True, exist_ok=True)
        numbers, png = _draw(lake, dump, part, present, folder)
        _write_json(folder / f"{part}.json", numbers)
        plots.pngs.append(png)
        title = f"### {_TITLES[part]} ({folder.name})"
        plots.sections[part] = [title, "", f"{{image:{png}}}", "", *_table(part, numbers)]
    return plots


_NEEDS: dict[SignalPart, tuple[str, ...]] = {
    "perplexity": ("perplexity",),
    "domain_labels": ("domains",),
    "perplexity_by_domain": ("perplexity", "domains"),
}
_TITLES: dict[SignalPart, str] = {
    "perplexity": "Perplexity",
    "domain_labels": "Domain labels",
    "perplexity_by_domain": "Perplexity by domain",
}


def _draw(
    lake: Lake, dump: str, part: SignalPart, present: Mapping[str, int], folder: Path
) -> tuple[dict[str, Any], Path]:
    if part == "perplexity":
        numbers = perplexity_numbers(lake, dump, present["perplexity"])
        return numbers, perplexity_png(numbers, folder / f"{part}.png")
    if part == "domain_labels":
        numbers = domain_numbers(lake, dump, present["domains"])
        return numbers, domains_png(numbers, folder / f"{part}.png")
    numbers = by_domain_numbers(lake, dump, present)
    return numbers, by_domain_png(numbers, folder / f"{part}.png")


def _table(part: SignalPart, numbers: Mapping[str, Any]) -> list[str]:
    """The drawn numbers as a Markdown table under the image."""
    if part == "perplexity":
        lines = ["| bucket | documents |", "| --- | ---: |"]
        lines += [f"| {b} | {n:,} |" for b, n in numbers["totals"].items()]
        lines += ["", "| language | model | head ≤ | middle ≤ |", "| --- | --- | ---: | ---: |"]
        return lines + [
            f"| {lang} | {c['model']} | {c['head']:g} | {c['middle']:g} |" for lang, c in numbers["cutoffs"].items()
        ]
    if part == "domain_labels":
        lines = ["| domain | documents | name |", "| --- | ---: | --- |"]
        return lines + [f"| {r['domain']} | {r['documents']:,} | {r['name']} |" for r in numbers["domains"]]
    lines = ["| domain | documents | p25 | median | p75 |", "| --- | ---: | ---: | ---: | ---: |"]
    return lines + [
        f"| {r['domain']} | {r['documents']:,} | {r['p25']:.1f} | {r['median']:.1f} | {r['p75']:.1f} |"
        for r in numbers["domains"]
    ]


def signals_markdown(plots: PlotSet, *, embed: bool = True) -> str:
    """Every section of ``plots``, images embedded as ``data:image/png;base64`` URIs (``embed``) or linked."""
    out: list[str] = []
    for lines in plots.sections.values():
        for line in lines:
            if line.startswith("{image:"):
                path = Path(line[len("{image:") : -1])
                src = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode() if embed else str(path)
                line = f"![{path.stem}]({src})"
            out.append(line)
        out.append("")
    return "\n".join(out).strip() + "\n"


def asset_signal_plots(
    lake: Lake, dump: str, versions: Mapping[str, int], parts: Sequence[SignalPart]
) -> tuple[str, str] | None:
    """What a signal asset attaches: the Markdown of ``parts`` with the images embedded, and the folder of
    the files; None for a lake with no local folder to write them beside."""
    if not lake.is_local:
        return None
    plots = write_signal_plots(lake, dump, versions=versions, parts=parts)
    return signals_markdown(plots), str(plots.folder)
