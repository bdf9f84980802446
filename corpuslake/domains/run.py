"""Stage runners of domains: train and register a domain model, label every scored document of a dump.

Models are files under ``<lake>/_models/domains/<sha256>.zip`` registered in the append-only
``domain_models`` table (training table version, parameters, hash, domain names). The ``domains`` table
holds one row per scored document of a dump: its domain label and name, the registered domain and the
top-level domain of its URL, and the hash of the model that labelled it.
"""

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from duckdb import ColumnExpression as C
from duckdb import ConstantExpression as K
from duckdb import FunctionExpression as F

from corpuslake import __version__
from corpuslake.domains.model import DomainModel, DomainModelConfig, DomainModelError
from corpuslake.lineage import Lineage, TableVersion, plain
from corpuslake.names import check_name
from corpuslake.parallel import Workers
from corpuslake.plots.domains import url_domains
from corpuslake.runner import JOB_ROWS, Sink, StageReport, partition_output, run_stage
from corpuslake.spill import connect, dump_relation, union_all
from corpuslake.store import Lake

STAGE_VERSION = "1"
MODELS_DIR = "_models/domains"
SOURCE = "scored"
INPUT_COLUMNS = ("id", "dump", "url", "text")
Note = Callable[[int, Any], None]


def code_version() -> str:
    """The code version recorded in the lineage of the domain model and the domains table."""
    return f"corpuslake-{__version__}/stage-{STAGE_VERSION}"


DOMAINS = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("dump", pa.string(), nullable=False),
        pa.field("domain", pa.string(), nullable=False),  # the model's label: c00 is its largest domain
        pa.field("domain_name", pa.string(), nullable=False),  # the label's top terms
        pa.field("registered_domain", pa.string(), nullable=False),  # public suffix + one label, (none), (ip)
        pa.field("tld", pa.string(), nullable=False),  # the host's last label
        pa.field("domain_model", pa.string(), nullable=False),  # the labelling model's hash
    ]
)
DOMAIN_MODELS = pa.schema(
    [
        pa.field("model_hash", pa.string(), nullable=False),
        pa.field("path", pa.string(), nullable=False),  # relative to the lake root
        pa.field("training_table", pa.string(), nullable=False),
        pa.field("training_version", pa.int64(), nullable=False),
        pa.field("documents", pa.int64(), nullable=False),  # sample size actually read
        pa.field("k", pa.int32(), nullable=False),
        pa.field("config", pa.string(), nullable=False),  # JSON of DomainModelConfig
        pa.field("domains", pa.string(), nullable=False),  # JSON list: domain, name, documents, urls
        pa.field("trained_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)


def training_sample(lake: Lake, version: int, config: DomainModelConfig, staging: Path) -> pa.Table:
    """At most ``sample_size`` documents (url, text clipped to ``max_chars``) of ``scored`` at ``version``,
    chosen and ordered by the MD5 of dump and id: the same version gives the same sample, in DuckDB that
    spills (only the narrow keys are sorted; texts are read for the chosen rows only)."""
    schema = lake.dataset(SOURCE, version).schema
    con = connect(staging)
    try:
        parts = [
            dump_relation(con, lake, SOURCE, version, d, i, INPUT_COLUMNS, schema)
            for i, d in enumerate(lake.dumps(SOURCE, version))
        ]
        if not parts:
            return pa.table({"url": pa.array([], pa.string()), "text": pa.array([], pa.string())})
        rows = union_all(parts)
        key = F("md5", F("concat", C("dump"), K("/"), C("id")))
        chosen = rows.project(key.alias("sample_key")).order("sample_key").limit(config.sample_size)
        picked = rows.set_alias("rows").join(chosen.set_alias("chosen"), key == C("sample_key")).order("sample_key")
        text = F("left", C("text"), K(config.max_chars))
        return picked.project(C("url"), text.alias("text")).to_arrow_table()
    finally:
        con.close()


def train_model(lake: Lake, run_id: str, config: DomainModelConfig, code_version: str) -> tuple[int, DomainModel, str]:
    """Train on a sample of the latest ``scored`` version, store the file by hash, register it; return the
    registry version, the model and its hash."""
    version = lake.version(SOURCE)
    if version is None:
        raise LookupError("the domain model trains on scored, which does not exist yet: materialize it first")
    from corpuslake.domains.training import train  # deferred: scikit-learn, only when a model is trained

    with lake.staging() as staging:
        sample = training_sample(lake, version, config, staging)
        provenance = {"table": SOURCE, "version": version, "documents": sample.num_rows}
        model = train(sample.column("text").to_pylist(), sample.column("url").to_pylist(), config, provenance)
        scratch = staging / "model.zip"
        model.save(scratch)
        digest = hashlib.sha256(scratch.read_bytes()).hexdigest()
        relative = f"{MODELS_DIR}/{digest}.zip"
        if lake.is_local:
            target = lake.local_path(relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                scratch.replace(target)
        else:
            lake.store_file(scratch, relative)
    row = {
        "model_hash": digest,
        "path": relative,
        "training_table": SOURCE,
        "training_version": version,
        "documents": sample.num_rows,
        "k": config.k,
        "config": json.dumps(plain(config), sort_keys=True),
        "domains": json.dumps(model.header["domains"], sort_keys=True),
        "trained_at": datetime.now(UTC),
    }
    upstream = (TableVersion(SOURCE, version),)
    names = {d.domain: d.name for d in model.domains}
    lineage_config = plain(config) | {"model_hash": digest, "domains": names, "documents": sample.num_rows}
    lineage = Lineage("domain_model", "", run_id, code_version, lineage_config, upstream)
    registry = lake.append("domain_models", pa.Table.from_pylist([row], schema=DOMAIN_MODELS), lineage)
    return registry, model, digest


def current_model(lake: Lake) -> tuple[int, dict[str, Any]]:
    """The latest registered domain model: (registry version, its row)."""
    version = lake.version("domain_models")
    if version is None:
        raise LookupError("no domain model yet: materialize domain_model first")
    rows = lake.read("domain_models", version).sort_by([("trained_at", "descending")]).to_pylist()
    return version, rows[0]


@dataclass(frozen=True)
class LabelSettings:
    """The model a worker labels with: its local file, named by its hash."""

    model_path: str
    batch_rows: int = 1_000


_MODEL: tuple[str, DomainModel] | None = None  # one loaded model per worker process


def label_batch(docs: pa.Table, settings: LabelSettings, sink: Sink) -> None:
    """The domain, registered domain and TLD of one batch of scored documents."""
    global _MODEL
    if _MODEL is None or _MODEL[0] != settings.model_path:
        _MODEL = (settings.model_path, DomainModel.load(Path(settings.model_path)))
    model = _MODEL[1]
    labels = model.label(docs.column("text").to_pylist())
    hosts = [url_domains(u) for u in docs.column("url").to_pylist()]
    columns = {
        "id": docs.column("id"),
        "dump": docs.column("dump"),
        "domain": [model.domains[i].domain for i in labels.tolist()],
        "domain_name": [model.domains[i].name for i in labels.tolist()],
        "registered_domain": [h[0] for h in hosts],
        "tld": [h[1] for h in hosts],
        "domain_model": [Path(settings.model_path).stem] * docs.num_rows,
    }
    for index in labels.tolist():
        sink.count(f"domain.{model.domains[index].domain}")
    sink.count("documents", docs.num_rows)
    sink.write("domains", pa.table(columns, schema=DOMAINS))


def label_dump(
    lake: Lake,
    dump: str,
    run_id: str,
    workers: Workers,
    code_version: str,
    progress: Callable[[str], None] | None = None,
) -> StageReport:
    """Write the ``domains`` rows of every scored document of ``dump`` with the latest domain model;
    ``progress`` gets one line per finished job."""
    check_name(dump, "dump")
    source_version = lake.partition_version(SOURCE, dump)
    registry_version, model = current_model(lake)
    try:
        path = lake.fetch_file(model["path"], model["model_hash"])
    except FileNotFoundError as error:
        raise DomainModelError(f"domain model {model['model_hash']} is registered but its file is missing") from error
    DomainModel.load(path)  # fail here, in the caller, on a missing or unreadable file
    upstream = (TableVersion(SOURCE, source_version), TableVersion("domain_models", registry_version))
    settings = LabelSettings(str(path))
    lineage = Lineage("domains", dump, run_id, code_version, {"model_hash": model["model_hash"]}, upstream)
    run = run_stage(
        lake,
        label_batch,
        settings,
        lake.row_groups(SOURCE, source_version, dump),
        outputs=[partition_output("domains", "domains", DOMAINS, dump)],
        lineage=lineage,
        workers=workers,
        columns=INPUT_COLUMNS,
        batch_rows=settings.batch_rows,
        job_rows=JOB_ROWS,
        note=_printer(dump, progress) if progress else None,
    )
    names = {d["domain"]: d["name"] for d in json.loads(model["domains"])}
    return run.report("domains", upstream, {"model_hash": model["model_hash"], "names": names})


def _printer(dump: str, progress: Callable[[str], None]) -> Note:
    started = time.perf_counter()

    def note(done: int, _result: Any) -> None:
        progress(f"domains [{dump}] {done} jobs done ({time.perf_counter() - started:.1f}s)")

    return note
