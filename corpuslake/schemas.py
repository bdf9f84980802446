"""Arrow schemas of the stage tables, and the stable document id.

Columns are added, never renamed, once a snapshot reads them. Every stage table carries ``dump`` (its
partition column) and the provenance columns, so any row can be traced back to its WARC record.
"""

import hashlib

import pyarrow as pa

from corpuslake.filters.chain import SIGNALS  # the filters own their signal columns

# One row per WARC file of a dump: the inventory, with what a full scan of the file found.
CRAWL_FILES = pa.schema(
    [
        pa.field("dump", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),  # path relative to the dump folder
        pa.field("path", pa.string(), nullable=False),  # absolute location when it was read
        pa.field("size", pa.int64(), nullable=False),
        pa.field("sha256", pa.string(), nullable=False),
        # warc.gz, warc, arc.gz, arc; jsonl, jsonl.gz, parquet (document files); empty, or rejected
        pa.field("format", pa.string(), nullable=False),
        pa.field("records", pa.int64(), nullable=False),
        pa.field("response_records", pa.int64(), nullable=False),
        pa.field("request_records", pa.int64(), nullable=False),
        pa.field("metadata_records", pa.int64(), nullable=False),
        pa.field("warcinfo_records", pa.int64(), nullable=False),
        pa.field("revisit_records", pa.int64(), nullable=False),
        pa.field("other_records", pa.int64(), nullable=False),
        pa.field("damaged_regions", pa.int64(), nullable=False),  # corrupt members and cut-off tails
        pa.field("error", pa.string()),  # why the whole file was rejected (not WARC, unreadable)
        # Added later (null in rows written before): resource records (content stored without HTTP) and
        # conversion records (a WET file's extracted texts), which ``other_records`` no longer counts.
        pa.field("resource_records", pa.int64()),
        pa.field("conversion_records", pa.int64()),
        # 16-byte BLAKE2b digests of the WARC-Record-IDs of the file's content records, concatenated in file
        # order: what the documents stage compares to reject a record id repeated across files.
        pa.field("record_id_digests", pa.binary()),
        # Added later (null in rows written before): records of a document file (JSONL, gzip JSONL or
        # Parquet: a line or a row each), every one a document or a rejection of the documents stage.
        pa.field("document_records", pa.int64()),
    ]
)

# One row per extracted HTML response record.
DOCUMENTS = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("dump", pa.string(), nullable=False),
        pa.field("url", pa.string()),
        pa.field("warc_record_id", pa.string()),
        pa.field("warc_date", pa.timestamp("us", tz="UTC")),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("warc_offset", pa.int64(), nullable=False),
        pa.field("content_type", pa.string()),
        pa.field("encoding", pa.string()),  # the charset the HTML was decoded with
        pa.field("html_bytes", pa.int64(), nullable=False),
        pa.field("replaced_fraction", pa.float32(), nullable=False),  # undecodable characters replaced
        pa.field("text", pa.string(), nullable=False),
        pa.field("text_chars", pa.int64(), nullable=False),
        pa.field("language", pa.string(), nullable=False),  # lid.176 label, e.g. "en", "zh"
        pa.field("language_score", pa.float32(), nullable=False),
    ]
)

# One row per dropped record or document, any stage. ``stage`` is a partition column beside ``dump``
# so each stage replaces only its own rejections.
REJECTIONS = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("dump", pa.string(), nullable=False),
        pa.field("stage", pa.string(), nullable=False),
        pa.field(
            "filter", pa.string(), nullable=False
        ),  # the unit that decided: warc, http, extract, gopher_quality...
        pa.field("reason", pa.string(), nullable=False),  # a stable reason code
        pa.field("detail", pa.string()),  # a human sentence (error text, measured value)
        pa.field("url", pa.string()),
        pa.field("warc_record_id", pa.string()),
        pa.field("source_file", pa.string()),
        pa.field("warc_offset", pa.int64()),
        pa.field("signals", pa.string()),  # JSON object of the values that decided it
    ]
)


def _filtered_schema() -> pa.Schema:
    fields = [f for f in DOCUMENTS if f.name != "text_chars"]
    return pa.schema(
        [
            *fields,
            pa.field("text_chars", pa.int64(), nullable=False),  # of the text after C4's line edits
            pa.field("original_chars", pa.int64(), nullable=False),  # of the extracted text
            *[signal.field() for signal in SIGNALS],
            # every unit's failing rule, enabled or not ("refinedweb/removed_words" when that unit is off)
            pa.field("flags", pa.list_(pa.string()), nullable=False),
        ]
    )


# One row per kept document: the documents' columns (text after C4's line edits) and every filter signal.
FILTERED = _filtered_schema()

# One row per kept document after dedup: the filtered columns and the document's duplicate cluster.
DEDUPLICATED = pa.schema(
    [
        *FILTERED,
        pa.field("cluster_id", pa.string(), nullable=False),  # id of the cluster's kept document (its own)
        pa.field("cluster_size", pa.int32(), nullable=False),  # documents in the cluster, this one included
        pa.field("dup_kind", pa.string(), nullable=False),  # none, exact, near, exact+near: what it absorbed
        pa.field("paragraphs_removed", pa.int32(), nullable=False),  # by exact paragraph dedup
    ]
)

# The LSH band index: per kept document, one row per band (its band key) and one for its exact-text
# hash (band -1). Incremental dedup of a later dump looks its keys up here.
MINHASH_INDEX = pa.schema(
    [
        pa.field("dump", pa.string(), nullable=False),
        pa.field("band", pa.int16(), nullable=False),
        pa.field("key", pa.int64(), nullable=False),
        pa.field("id", pa.string(), nullable=False),
        pa.field("text_chars", pa.int64(), nullable=False),
    ]
)

# One row per document after dedup, with its model quality score (nothing is dropped).
SCORED = pa.schema(
    [
        *DEDUPLICATED,
        pa.field("quality_score", pa.float32(), nullable=False),  # P(hq) from the fastText classifier
        pa.field("quality_model", pa.string(), nullable=False),  # the model's content hash
    ]
)

# The registry of trained quality models (append-only): what each model file is and how good it was.
QUALITY_MODELS = pa.schema(
    [
        pa.field("model_hash", pa.string(), nullable=False),  # sha256 of the model file
        pa.field("path", pa.string(), nullable=False),  # relative to the lake root
        pa.field("training_set_version", pa.int64(), nullable=False),
        pa.field("config", pa.string(), nullable=False),  # hyperparameters, JSON
        pa.field("precision", pa.float64(), nullable=False),  # on the held-out split, at 0.5
        pa.field("recall", pa.float64(), nullable=False),
        pa.field("auc", pa.float64(), nullable=False),
        pa.field("heldout", pa.int64(), nullable=False),
        pa.field("trained_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)

DECLARED: dict[str, pa.Schema] = {
    "crawl_files": CRAWL_FILES,
    "documents": DOCUMENTS,
    "rejections": REJECTIONS,
    "filtered": FILTERED,
    "deduplicated": DEDUPLICATED,
    "scored": SCORED,
}
"""The schemas this version writes: a table written by an older version, with fewer of these columns,
takes the added ones (older rows read null); any other change of columns is refused."""

PARTITIONS: dict[str, list[str]] = {
    "crawl_files": ["dump"],
    "documents": ["dump"],
    "filtered": ["dump"],
    "deduplicated": ["dump"],
    "minhash_index": ["dump"],
    "scored": ["dump"],
    "content_signals": ["dump"],
    "domains": ["dump"],  # signal tables a snapshot definition may select by (where:)
    "perplexity": ["dump"],
    "model_scores": ["dump"],
    "model_scores_staging": ["dump"],  # users' models' raw scores, before their percentile buckets
    "domain_models": [],
    "proxy_runs": ["search"],  # one partition per mixture search
    "quality_training_set": [],
    "quality_models": [],
    "rejections": ["dump", "stage"],
    "snapshots": [],  # snapshots/<name>: each publication replaces the whole table (one Delta version)
    "catalog": [],
    "check_results": [],  # append-only registries
    "publication_log": [],
}


def document_id(dump: str, record_id: str | None, source_file: str, offset: int) -> str:
    """Stable id: a hash of (dump, WARC-Record-ID), or of (dump, file, offset) without a record id."""
    key = f"{dump}\x00{record_id}" if record_id else f"{dump}\x00{source_file}\x00{offset}"
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
