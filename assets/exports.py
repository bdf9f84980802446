"""Token shards of published pins, for trainers: one export folder per pin, format and tokenizer."""

from pathlib import Path
from typing import Any

import dagster as dg
import pydantic

from corpuslake.catalog import Catalog
from corpuslake.export.manifest import read_manifest, verify_export
from corpuslake.export.pin_export import STAGE_VERSION, ExportOptions, export_pin
from corpuslake.export.shards import Format
from corpuslake.export.sidecar import DEFAULT_VALIDATION_FRACTION
from corpuslake.export.tokenizer import ExportTokenizer, TokenPolicy
from orchestration.resources import ComputeResource, LakeResource


class ExportConfig(dg.Config):
    """Which pins to export, where, and how."""

    folder: str = "exports"
    """The folder the exports go in, one sub-folder ``<name>@<N>-<format>`` per pin."""
    pins: list[str] = pydantic.Field(default_factory=list)
    """Pins to export (``corpuslake://name@N``); empty: the latest publication of every name."""
    format: str = "megatron"
    """``megatron`` (``.bin``/``.idx``) or ``datatrove`` (``.ds`` files)."""
    tokenizer: str = ""
    """A ``tokenizer.json`` or SentencePiece model file; empty: mistral-common's SentencePiece v1 model."""
    validation_fraction: float = DEFAULT_VALIDATION_FRACTION
    """Share of documents held out for validation (by id hash)."""
    append_eos: bool = True
    """End every document with the tokenizer's EOS."""
    prepend_bos: bool = False
    """Start every document with the tokenizer's BOS."""


def _current(target: Path, pin: str, fmt: str, tokenizer_sha256: str, options: dict[str, Any]) -> bool:
    """An intact export of the same pin, format, tokenizer and options is already there."""
    if not (target / "export.json").is_file():
        return False
    manifest = read_manifest(target)
    same = (manifest["pin"], manifest["format"], manifest["tokenizer"]["sha256"]) == (pin, fmt, tokenizer_sha256)
    wanted = {k: manifest["options"].get(k) for k in options}
    return same and wanted == options and not verify_export(target)


@dg.asset(deps=["snapshots", "mixtures"], group_name="publish", kinds={"numpy"}, code_version=STAGE_VERSION)
def exports(
    context: dg.AssetExecutionContext, config: ExportConfig, lake: LakeResource, compute: ComputeResource
) -> dg.MaterializeResult:
    """Published pins exported as token shards a trainer reads (Megatron ``.bin``/``.idx`` or datatrove
    ``.ds``): one folder per pin with a train and a held-out validation split, a sidecar per split mapping
    every token document to its row, ``export.json`` with every file's SHA-256, and a record in the lake's
    ``exports`` table. A mixture's folder also holds its sources' exports and its Megatron blends. An
    intact export of the same pin and options is kept as it is."""
    store = lake.lake()
    catalog = Catalog(store)
    pins = config.pins or [e.uri for e in {e.name: e for e in catalog.entries()}.values()]
    fmt: Format = "datatrove" if config.format == "datatrove" else "megatron"
    if config.format not in ("megatron", "datatrove"):
        raise dg.Failure(description=f"format must be megatron or datatrove, not {config.format!r}")
    policy = TokenPolicy(append_eos=config.append_eos, prepend_bos=config.prepend_bos)
    options = ExportOptions(fmt, policy, config.validation_fraction, workers=compute.resolved_workers())
    tokenizer_sha = ExportTokenizer(config.tokenizer or None).identity.sha256
    wanted = {"append_eos": policy.append_eos, "prepend_bos": policy.prepend_bos}
    rows, metadata = [], {}
    for pin in sorted(pins):
        target = Path(config.folder) / f"{pin.removeprefix('corpuslake://')}-{fmt}"
        if _current(target, pin, fmt, tokenizer_sha, wanted | {"validation_fraction": config.validation_fraction}):
            manifest, new = read_manifest(target), False
        else:
            manifest = export_pin(pin, target, config.tokenizer or None, options, lake=store, overwrite=True)
            new = True
        context.log.info(f"{pin}: {'exported to' if new else 'unchanged in'} {target}")
        train, validation = manifest["splits"]["train"], manifest["splits"]["validation"]
        rows.append(
            f"| {pin} | {'yes' if new else 'no'} | {train['documents']:,} | {train['tokens']:,} "
            f"| {validation['documents']:,} | {validation['tokens']:,} | {target} | {manifest['export_id'][:16]} |"
        )
        metadata[f"{pin.removeprefix('corpuslake://')}/export_id"] = manifest["export_id"]
    table = "| pin | new | train docs | train tokens | validation docs | validation tokens | folder | export |\n"
    table += "| --- | --- | ---: | ---: | ---: | ---: | --- | --- |\n" + "\n".join(rows)
    metadata |= {"exports": dg.MetadataValue.md(table), "format": fmt, "tokenizer_sha256": tokenizer_sha}
    ids = ",".join(str(v) for k, v in sorted(metadata.items()) if k.endswith("/export_id"))
    return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(ids or "none"))
