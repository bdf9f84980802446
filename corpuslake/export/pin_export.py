"""Exporting a pin (or a lock file's pin) to token shards: the folder layout, atomically, and its record.

The export is written into a hidden folder beside the target and renamed into place at the end, so an
interrupted export leaves nothing visible under the target's name (the hidden folder is removed). A
mixture pin also exports each of its sources under ``sources/<name>@<N>/`` and writes its blends.
The finished export is recorded in the lake (:mod:`corpuslake.export.registry`).
"""

import shutil
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpuslake import client
from corpuslake.catalog import Catalog
from corpuslake.consumers import register_export
from corpuslake.errors import InputError
from corpuslake.export.blend import source_folder, write_blends
from corpuslake.export.manifest import write_manifest
from corpuslake.export.registry import record_export
from corpuslake.export.shards import Format, shard_dtype
from corpuslake.export.sidecar import DEFAULT_VALIDATION_FRACTION, DEFAULT_VALIDATION_SEED
from corpuslake.export.splits import Progress, SplitOptions, write_splits
from corpuslake.export.tokenizer import ExportTokenizer, TokenPolicy
from corpuslake.parallel import Workers
from corpuslake.recipes import recipe_from_mapping
from corpuslake.store import Lake

STAGE = "exports"
STAGE_VERSION = "1"
"""The exports asset's code version: bump it when the same pin and options would give other bytes."""


class ExportTargetError(InputError):
    """An output folder that exists and holds files (without ``overwrite``)."""


@dataclass(frozen=True)
class ExportOptions:
    """How a pin is exported (all but ``workers`` and ``batch_rows`` are recorded in ``export.json``)."""

    fmt: Format = "megatron"
    """``megatron`` (``.bin``/``.idx``) or ``datatrove`` (``.ds`` files, nanotron's reader)."""
    policy: TokenPolicy = field(default_factory=TokenPolicy)
    """Special tokens around every document (default: EOS appended, no BOS)."""
    validation_fraction: float = DEFAULT_VALIDATION_FRACTION
    """Share of documents held out for validation, chosen by a keyed hash of the id (0.5% by default)."""
    validation_seed: str = DEFAULT_VALIDATION_SEED
    """Keys that hash."""
    workers: Workers = 1
    """Tokenizing processes (1: in this process)."""
    batch_rows: int = 1024
    """Documents per batch a worker tokenizes: memory grows with it, never with the pin."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.validation_fraction < 1.0:
            raise InputError(f"the validation fraction must be in [0, 1), not {self.validation_fraction}")


def export_pin(
    uri: str,
    out: str | Path,
    tokenizer_path: str | Path | None,
    options: ExportOptions,
    *,
    lake: str | Lake | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Export a pin (``corpuslake://name@N``, or a lock file) into ``out``; return its manifest."""
    store, entry = client.resolve(uri, lake)
    snapshot = client.Snapshot(store, entry)
    snapshot.check_files()
    tokenizer = ExportTokenizer(tokenizer_path)
    tokenizer.check(options.policy)
    target = Path(out)
    if target.exists() and (not target.is_dir() or any(target.iterdir())) and not overwrite:
        raise ExportTargetError(f"{target} exists and is not empty: choose another folder, or --overwrite")
    temporary = target.parent / f".{target.name}.part-{uuid.uuid4().hex[:12]}"
    temporary.mkdir(parents=True)
    try:
        manifest, phase_tokens = _export_into(temporary, snapshot, tokenizer, options, progress)
        if entry.kind == "mixture":
            recipe = recipe_from_mapping(entry.lineage["definition"], entry.uri)
            for source in sorted({s.uri for phase in recipe.phases for s in phase.sources}):
                folder = temporary / source_folder(source)
                folder.mkdir(parents=True)
                source_snapshot = client.Snapshot(store, Catalog(store).resolve(source))
                write_manifest(folder, _export_into(folder, source_snapshot, tokenizer, options, progress)[0])
            write_blends(temporary, recipe, phase_tokens)
        manifest = write_manifest(temporary, manifest)
        _put_in_place(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    record_export(store, manifest, str(target.resolve()))
    register_export(store, manifest, str(target.resolve()))  # gc keeps the pin while the export is registered
    return manifest


def _export_into(
    folder: Path,
    snapshot: client.Snapshot,
    tokenizer: ExportTokenizer,
    options: ExportOptions,
    progress: Progress | None,
) -> tuple[dict[str, Any], Counter[tuple[str, str]]]:
    """One pin's splits into ``folder``; its manifest (without files) and, for a mixture, the train
    tokens per (phase, source)."""
    split_options = SplitOptions(
        options.fmt,
        options.policy,
        options.validation_fraction,
        options.validation_seed,
        options.batch_rows,
        options.workers,
    )
    written = write_splits(snapshot, folder, tokenizer, split_options, progress)
    manifest: dict[str, Any] = {
        "pin": snapshot.entry.uri,
        "pin_manifest_sha256": snapshot.entry.manifest_sha256,
        "format": options.fmt,
        "tokenizer": tokenizer.identity.as_json(),
        "options": {
            "append_eos": options.policy.append_eos,
            "prepend_bos": options.policy.prepend_bos,
            "dtype": shard_dtype(options.fmt, tokenizer.dtype),
            "validation_fraction": options.validation_fraction,
            "validation_seed": options.validation_seed,
        },
        "splits": written.splits,
    }
    return manifest, written.phase_tokens


def _put_in_place(temporary: Path, target: Path) -> None:
    """Rename the finished export to its name; an old export there (``overwrite``) is removed after."""
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:12]}"
        target.rename(old)
    temporary.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
