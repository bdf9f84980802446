"""Whether published snapshots hold a document, and which rule of a snapshot's definition cut it.

A publication's rows are looked up by id at its Delta version (pushed down). For one that does not hold
the document, the definition recorded in the catalog is checked rule by rule, in the order the selection
applies them (:mod:`corpuslake.selection`), against the document's row in the source version it read.
"""

from typing import Any

from corpuslake.catalog import Catalog, CatalogEntry
from corpuslake.inspect.scan import rows_by_id
from corpuslake.inspect.why import Step, Trail
from corpuslake.store import Lake

_SOURCE_COLUMNS = ["dump", "language", "language_score", "quality_score"]
_POLICY_COLUMNS = ["contamination_ngrams", "badword_rate"]


def publications(lake: Lake, pins: list[str] | None) -> list[CatalogEntry]:
    """The pins asked for, or else the latest number of every published name."""
    if lake.version("catalog") is None:
        return []
    catalog = Catalog(lake)
    if pins:
        return [catalog.resolve(pin) for pin in pins]
    latest: dict[str, CatalogEntry] = {}
    for entry in catalog.entries():
        latest[entry.name] = entry
    return list(latest.values())


def pin_step(lake: Lake, entry: CatalogEntry, trail: Trail) -> Step:
    """What the publication ``entry`` did with the document."""
    if rows_by_id(lake, entry.table, entry.delta_version, [trail.id], ["id"]):
        return Step(entry.uri, "in_pin", f"in {entry.uri}", {"pin": entry.uri})
    if entry.kind != "snapshot":
        return Step(entry.uri, "cut", f"not drawn into mixture {entry.uri}", {"pin": entry.uri})
    rule, detail = cut_rule(lake, entry, trail)
    return Step(entry.uri, "cut", f"cut from {entry.uri} by {rule}: {detail}", {"pin": entry.uri, "rule": rule})


def _source(entry: CatalogEntry, table: str | None = None) -> tuple[str, int | None]:
    """The table a publication selected from (or ``table``, another upstream) and the version it read."""
    definition = entry.lineage.get("definition", {})
    table = table or str(definition.get("source", "scored"))
    for upstream in entry.lineage.get("upstream", []):
        name, _, version = str(upstream).partition("@v")
        if name == table and version.isdigit():
            return table, int(version)
    return table, None


def cut_rule(lake: Lake, entry: CatalogEntry, trail: Trail) -> tuple[str, str]:
    """The first rule of the snapshot's definition the document fails, and its values against the rule's."""
    d: dict[str, Any] = dict(entry.lineage.get("definition", {}))
    table, version = _source(entry)
    if version is None:
        return "unknown", f"the catalog records no version of {table} for {entry.uri}"
    row = rows_by_id(lake, table, version, [trail.id], _SOURCE_COLUMNS, trail.dump).get(trail.id)
    if row is None:
        return "source", f"not in {table}@v{version}, which {entry.uri} was selected from"
    checks = _rules(d, row, entry.report)
    for rule, failed, detail in checks:
        if failed:
            return rule, detail
    policy = _policy(lake, entry, d, trail)
    if policy is not None:
        return policy
    if d.get("cross_dump_duplicates", "drop") == "drop":
        return "cross_dump_duplicates", "another dump's copy of the same normalized text or URL was kept"
    return "unknown", "every rule of the definition passes"


def _policy(lake: Lake, entry: CatalogEntry, d: dict[str, Any], trail: Trail) -> tuple[str, str] | None:
    """The content policy that cut the document, from the content signals the publication read."""
    if not d.get("drop_contaminated") and d.get("max_badword_rate") is None:
        return None
    table, version = _source(entry, "content_signals")
    row = {} if version is None else rows_by_id(lake, table, version, [trail.id], _POLICY_COLUMNS, trail.dump)
    found = row.get(trail.id)
    if found is None:
        return "content policy", f"no content signals of the document in {table}@v{version}"
    if d.get("drop_contaminated") and (found.get("contamination_ngrams") or 0) > 0:
        return "drop_contaminated", f"{found['contamination_ngrams']} 13-grams shared with an evaluation set"
    rate = found.get("badword_rate")
    if d.get("max_badword_rate") is not None and rate is not None and rate > d["max_badword_rate"]:
        return "max_badword_rate", f"bad-word rate {rate:.4f} > {d['max_badword_rate']}"
    return None


def _rules(d: dict[str, Any], row: dict[str, Any], report: Any) -> list[tuple[str, bool, str]]:
    score = row.get("quality_score")
    language, language_score = row.get("language"), row.get("language_score") or 0.0
    cut = (report or {}).get("quality_cut")
    rules = [
        (
            "dumps",
            d.get("dumps") is not None and row["dump"] not in d["dumps"],
            f"dump {row['dump']} not in {d.get('dumps')}",
        ),
        (
            "dumps",
            row["dump"] in (report or {}).get("coverage", {}).get("left_out", {}),
            f"dump {row['dump']} left out (quarantined)",
        ),
        (
            "languages",
            d.get("languages") is not None and language not in d["languages"],
            f"language {language} not in {d.get('languages')}",
        ),
    ]
    if d.get("min_language_score") is not None:
        low = language_score < d["min_language_score"]
        rules.append(("min_language_score", low, f"language score {language_score:.3f} < {d['min_language_score']}"))
    if d.get("quality_threshold") is not None:
        low = score is None or score < d["quality_threshold"]
        rules.append(("quality_threshold", low, f"quality score {_score(score)} < {d['quality_threshold']}"))
    if d.get("quality_top_percent") is not None and cut is not None:
        low = score is None or score < cut
        text = f"quality score {_score(score)} below the top {d['quality_top_percent']}% cut {cut}"
        rules.append(("quality_top_percent", low, text))
    return rules


def _score(score: float | None) -> str:
    return "none" if score is None else f"{score:.3f}"
