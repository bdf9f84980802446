"""The published datasets: every snapshot definition, then every mixture recipe, recorded in the catalog."""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import dagster as dg

from assets.metadata import coverage_metadata, quarantine_metadata
from corpuslake.consumers import behind_lines
from corpuslake.datasets import publish_mixture, publish_snapshot
from corpuslake.publish import Publication, PublicationBlockedError
from corpuslake.store import Lake
from corpuslake.validate import load_valid_definitions
from orchestration.resources import ComputeResource, DatasetsResource, LakeResource
from quality_checks.gates import REQUIRED_CHECKS


def _publications_markdown(publications: list[Publication]) -> str:
    lines = [
        "| pin | new | documents | tokens | dumps | left out | table version | manifest |",
        "| --- | --- | ---: | ---: | --- | --- | --- | --- |",
    ]
    for p in publications:
        e = p.entry
        coverage = e.report.get("coverage", {})
        dumps = ", ".join(coverage.get("dumps", [])) if "dumps" in coverage else ""
        left_out = ", ".join(sorted(coverage.get("left_out", {})))
        lines.append(
            f"| {e.uri} | {'yes' if p.new else 'no (same content)'} | {e.documents:,} | {e.tokens:,} | {dumps} "
            f"| {left_out} | {e.table}@v{e.delta_version} | {e.manifest_sha256[:16]} |"
        )
    return "\n".join(lines)


def _proportions_markdown(publication: Publication) -> str:
    lines = [
        "| phase | source | requested tokens | realized tokens | requested share | realized share | epochs | capped |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for phase in publication.entry.report["phases"]:
        for s in phase["sources"]:
            lines.append(
                f"| {phase['phase']} | {s['source']} | {s['requested_tokens']:,} | {s['realized_tokens']:,} "
                f"| {s['requested_share']:.3f} | {s['realized_share']:.3f} | {s['epochs_drawn']:.2f} "
                f"| {'yes' if s['capped'] else 'no'} |"
            )
    return "\n".join(lines)


def _consumers_behind(context: dg.AssetExecutionContext, store: Lake, done: list[Publication]) -> dict[str, Any]:
    """Registered consumers still on an older number of a name that just got a new one: logged, and listed."""
    behind = [line for p in done if p.new for line in behind_lines(store, p.entry.name)]
    for line in behind:
        context.log.warning(line)
    return {"consumers_behind": dg.MetadataValue.md("\n".join(f"- {line}" for line in behind))} if behind else {}


def _publish_all(
    context: dg.AssetExecutionContext,
    names: list[str],
    one: Callable[[str], Publication],
    shown: Mapping[str, Any] | None = None,
    problems: Sequence[str] = (),
) -> tuple[list[Publication], dict[str, Any]]:
    """Publish each name; a blocked one does not stop the others, but fails the step at the end, as do the
    ``problems`` of definition files that could not be read (the valid ones are published first). ``shown``
    goes into the metadata either way (the quarantine, which explains most refusals)."""
    done: list[Publication] = []
    blocked: list[str] = []
    for problem in problems:
        context.log.error(problem)
        blocked.append(problem)
    for name in names:
        try:
            publication = one(name)
        except PublicationBlockedError as error:
            context.log.error(str(error))
            blocked.append(str(error))
            continue
        verb = "published" if publication.new else "unchanged, still"
        context.log.info(f"{name}: {verb} {publication.entry.uri}")
        done.append(publication)
    if blocked:
        raise dg.Failure(
            description=f"{len(blocked)} publication(s) blocked by their audits or their definitions",
            metadata={"blocked": dg.MetadataValue.md("\n".join(f"- {b}" for b in blocked)), **(shown or {})},
        )
    metadata: dict[str, Any] = {
        **(shown or {}),
        "publications": dg.MetadataValue.md(_publications_markdown(done)),
        "new_numbers": sum(p.new for p in done),
        "pins": ", ".join(p.entry.uri for p in done),
    }
    return done, metadata


@dg.asset(deps=["scored", "content_signals"], group_name="publish", kinds={"deltalake"}, code_version="1")
def snapshots(
    context: dg.AssetExecutionContext, lake: LakeResource, datasets: DatasetsResource, compute: ComputeResource
) -> dg.MaterializeResult:
    """Every snapshot definition selected from its stage table, token-counted, written as one version of
    ``snapshots/<name>``, audited, and recorded in the catalog under the next number (none when the content
    equals the latest publication). Quarantined dumps (a blocking check failed) are left out of every
    definition that does not name them; each publication's metadata says which dumps it covers."""
    store, workers = lake.lake(), compute.resolved_workers()
    valid, problems = load_valid_definitions(datasets.folder, only="snapshots")
    definitions = {d.name: d for d in valid.snapshots}
    held = quarantine_metadata(store)
    if "quarantined" in held:
        context.log.warning(f"{held['quarantined_dumps']} dump(s) quarantined: left out of the snapshots")
    done, metadata = _publish_all(
        context,
        sorted(definitions),
        lambda name: publish_snapshot(
            store, definitions[name], context.run.run_id, required_checks=REQUIRED_CHECKS, workers=workers
        ),
        held,
        problems,
    )
    for p in done:
        metadata |= coverage_metadata(p.entry)
        metadata[f"{p.entry.name}/documents"] = p.entry.documents
        metadata[f"{p.entry.name}/tokens"] = p.entry.tokens
        cross_dump = p.entry.report.get("cross_dump")
        if cross_dump:
            metadata[f"{p.entry.name}/cross_dump_dropped"] = cross_dump["same_text"] + cross_dump["same_url"]
    metadata["lake"] = store.root
    metadata |= _consumers_behind(context, store, done)
    tokenizers = sorted({p.entry.tokenizer for p in done})
    metadata["tokenizer"] = ", ".join(tokenizers) or "(nothing published)"
    return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(metadata["pins"] or "none"))


@dg.asset(deps=["snapshots"], group_name="publish", kinds={"deltalake"}, code_version="1")
def mixtures(
    context: dg.AssetExecutionContext, lake: LakeResource, datasets: DatasetsResource, compute: ComputeResource
) -> dg.MaterializeResult:
    """Every mixture recipe built from its pinned snapshots (same pins and seed, same rows), published as a
    numbered snapshot, with realized against requested token proportions per phase and source."""
    store, workers = lake.lake(), compute.resolved_workers()
    valid, problems = load_valid_definitions(datasets.folder, only="mixtures")
    recipes = {r.name: r for r in valid.mixtures}
    done, metadata = _publish_all(
        context,
        sorted(recipes),
        lambda name: publish_mixture(store, recipes[name], context.run.run_id, workers=workers),
        problems=problems,
    )
    for p in done:
        for shortfall in p.entry.report.get("shortfalls", []):
            context.log.warning(f"{p.entry.name}: {shortfall}")
    metadata["lake"] = store.root
    metadata |= _consumers_behind(context, store, done)
    for p in done:
        metadata |= coverage_metadata(p.entry)
        metadata[f"{p.entry.name}/proportions"] = dg.MetadataValue.md(_proportions_markdown(p))
        metadata[f"{p.entry.name}/realized_tokens"] = p.entry.tokens
        shortfalls = p.entry.report.get("shortfalls", [])
        if shortfalls:
            metadata[f"{p.entry.name}/shortfalls"] = dg.MetadataValue.md("\n".join(f"- {s}" for s in shortfalls))
    return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(metadata["pins"] or "none"))
