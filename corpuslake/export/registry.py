"""The lake's record of exports: a Delta table ``exports`` beside the catalog, one row per export written.

An export is keyed by its ``export_id`` (the hash of its manifest): the row holds the pin it was made
from, the tokenizer's SHA-256, the format, the options and the file digests, and where it was written.
Writing the same export again to the same place records nothing new.
"""

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from corpuslake import __version__
from corpuslake.catalog import EXPORTS_TABLE
from corpuslake.lineage import Lineage
from corpuslake.store import Lake

EXPORTS = pa.schema(
    [
        pa.field("export_id", pa.string(), nullable=False),
        pa.field("pin", pa.string(), nullable=False),
        pa.field("format", pa.string(), nullable=False),
        pa.field("tokenizer_sha256", pa.string(), nullable=False),
        pa.field("tokenizer", pa.string(), nullable=False),  # JSON, as export.json has it
        pa.field("options", pa.string(), nullable=False),  # JSON
        pa.field("splits", pa.string(), nullable=False),  # JSON: prefix, documents, tokens per split
        pa.field("files", pa.string(), nullable=False),  # JSON {relative path: sha256}
        pa.field("location", pa.string(), nullable=False),  # the folder it was written to
        pa.field("recorded_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)


def exports(lake: Lake, pin: str | None = None) -> list[dict[str, Any]]:
    """The recorded exports (of ``pin``), oldest first, with their JSON fields decoded."""
    if lake.version(EXPORTS_TABLE) is None:
        return []
    rows = lake.read(EXPORTS_TABLE).to_pylist()
    decoded = [{**r, **{k: json.loads(r[k]) for k in ("tokenizer", "options", "splits", "files")}} for r in rows]
    return sorted((r for r in decoded if pin is None or r["pin"] == pin), key=lambda r: r["recorded_at"])


def record_export(lake: Lake, manifest: Mapping[str, Any], location: str) -> bool:
    """Record an export in the lake; False when this export was already recorded at ``location``."""
    if any(r["export_id"] == manifest["export_id"] and r["location"] == location for r in exports(lake)):
        return False
    lake.ensure_table(EXPORTS_TABLE, EXPORTS, {})
    row = {
        "export_id": manifest["export_id"],
        "pin": manifest["pin"],
        "format": manifest["format"],
        "tokenizer_sha256": manifest["tokenizer"]["sha256"],
        **{k: json.dumps(manifest[k], sort_keys=True) for k in ("tokenizer", "options", "splits", "files")},
        "location": location,
        "recorded_at": datetime.now(UTC),
    }
    lineage = Lineage(
        asset=EXPORTS_TABLE,
        partition=None,
        run_id=manifest["export_id"][:16],
        code_version=__version__,
        config={"pin": manifest["pin"], "export_id": manifest["export_id"]},
    )
    lake.append(EXPORTS_TABLE, pa.Table.from_pylist([row], schema=EXPORTS), lineage)
    return True
