"""The one stage runner: jobs carry references, workers write the files, the driver commits add actions.

Touches a local lake in tmp_path and, for the pool test, two spawned worker processes.
"""

import pickle
from pathlib import Path

import pyarrow as pa
import pytest

from corpuslake.lineage import Lineage
from corpuslake.runner import Job, Sink, partition_output, run_job, run_stage
from corpuslake.store import Lake, compact

SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("dump", pa.string(), nullable=False),
        pa.field("text", pa.string()),
        pa.field("n", pa.int64()),
    ]
)
OUT = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("dump", pa.string(), nullable=False),
        pa.field("chars", pa.int64()),
    ]
)


def _rows(dump: str, count: int) -> pa.Table:
    ids = [f"{dump}-{i:06d}" for i in range(count)]
    return pa.table(
        {
            "id": ids,
            "dump": [dump] * count,
            "text": [f"text of document {i} " * (1 + i % 7) for i in range(count)],
            "n": list(range(count)),
        },
        schema=SCHEMA,
    )


def _lineage(table: str, dump: str) -> Lineage:
    return Lineage(table, dump, "run", "test", {})


def measure_chars(batch: pa.Table, config: int, sink: Sink) -> None:
    """A stage: keeps rows whose n is not a multiple of ``config`` with their text length."""
    ns = batch.column("n").to_pylist()
    keep = [i for i, n in enumerate(ns) if n % config]
    kept = batch.take(keep)
    chars = pa.array([len(t) for t in kept.column("text").to_pylist()], pa.int64())
    sink.write("kept", pa.table({"id": kept["id"], "dump": kept["dump"], "chars": chars}))
    sink.count("documents", batch.num_rows)
    sink.count("kept", len(keep))


def failing_stage(batch: pa.Table, config: int, sink: Sink) -> None:
    sink.write("kept", pa.table({"id": batch["id"], "dump": batch["dump"], "chars": batch["n"]}))
    if batch.column("n")[0].as_py() >= config:
        raise ValueError("a bad batch")


def _source(tmp_path: Path, rows: int = 5_000, row_group: int = 1_000) -> Lake:
    lake = Lake(str(tmp_path / "lake"))
    data = _rows("D1", rows)
    files = []
    for at in range(0, rows, 2 * row_group):  # two row groups per file
        writer = lake.file_writer("documents", f"dump=D1/part-{at:06d}.parquet", SCHEMA.remove(1))
        for start in range(at, min(at + 2 * row_group, rows), row_group):
            writer.write(data.slice(start, row_group).drop_columns(["dump"]))
        files.append(writer.close())
    lake.commit_files("documents", files, SCHEMA, _lineage("documents", "D1"), {"dump": "D1"})
    return lake


def test_a_compact_batch_pickles_to_about_its_own_size() -> None:
    whole = _rows("D1", 50_000)
    piece = whole.slice(20_000, 1_000)
    assert len(pickle.dumps(piece)) > 20 * piece.nbytes  # the slice drags its parent's buffers along
    copied = compact(piece)
    assert copied.equals(piece)
    assert len(pickle.dumps(copied)) <= 1.2 * copied.nbytes


def test_a_job_carries_a_reference_not_rows(tmp_path: Path) -> None:
    lake = _source(tmp_path)
    groups = lake.row_groups("documents", 0, "D1")
    assert [g.rows for g in groups] == [1_000] * 5
    output = partition_output("kept", "chars", OUT, "D1")
    job = Job(0, groups[0], measure_chars, 3, (output,), "stem", lake, None, 1_000, 1_000)
    batch_bytes = next(groups[0].batches(None, 1_000)).nbytes
    assert len(pickle.dumps(job)) < 0.05 * batch_bytes
    result = run_job(job)
    assert result.rows_in == 1_000 and result.counters["kept"] == 666
    assert len(pickle.dumps(result)) < 0.05 * batch_bytes  # file names and counts, never rows


def test_workers_read_partition_columns_and_batches_of_a_row_group(tmp_path: Path) -> None:
    lake = _source(tmp_path, rows=3_000, row_group=1_500)
    batches = [b for g in lake.row_groups("documents", 0, "D1") for b in g.batches(["id", "dump"], 400)]
    assert max(b.num_rows for b in batches) == 400
    assert sum(b.num_rows for b in batches) == 3_000
    assert set(pa.concat_tables(batches).column("dump").to_pylist()) == {"D1"}


@pytest.mark.slow
def test_the_pool_and_one_process_write_the_same_rows(tmp_path: Path) -> None:
    lake = _source(tmp_path)
    results = {}
    for workers in (1, 2):
        run = run_stage(
            lake,
            measure_chars,
            3,
            lake.row_groups("documents", 0, "D1"),
            outputs=[partition_output("kept", f"chars{workers}", OUT, "D1")],
            lineage=_lineage(f"chars{workers}", "D1"),
            workers=workers,
            batch_rows=700,
        )
        assert run.counters["documents"] == 5_000 and run.rows["kept"] == run.counters["kept"] == 3_333
        results[workers] = lake.read(f"chars{workers}", run.versions["kept"]).sort_by("id")
        assert lake.lineage(f"chars{workers}", run.versions["kept"]).commit_id
    assert results[1].equals(results[2])


def test_rerunning_replaces_one_partition_only(tmp_path: Path) -> None:
    lake = _source(tmp_path)
    output = partition_output("kept", "chars", OUT, "D1")
    other = pa.table({"id": ["x"], "dump": ["D0"], "chars": [1]}, schema=OUT)
    lake.write_partition("chars", other, _lineage("chars", "D0"), {"dump": "D0"})
    groups = lake.row_groups("documents", 0, "D1")
    for divisor in (3, 2):
        run = run_stage(
            lake, measure_chars, divisor, groups, outputs=[output], lineage=_lineage("chars", "D1"), workers=1
        )
    assert lake.read("chars", run.versions["kept"], dumps=["D1"]).num_rows == 2_500
    assert lake.read("chars", run.versions["kept"], dumps=["D0"]).num_rows == 1


def test_a_failed_stage_commits_nothing_and_leaves_no_files(tmp_path: Path) -> None:
    lake = _source(tmp_path)
    output = partition_output("kept", "chars", OUT, "D1")
    with pytest.raises(ValueError, match="a bad batch"):
        run_stage(
            lake,
            failing_stage,
            2_000,
            lake.row_groups("documents", 0, "D1"),
            outputs=[output],
            lineage=_lineage("chars", "D1"),
            workers=1,
        )
    assert lake.version("chars") is None
    folder = tmp_path / "lake" / "chars" / "dump=D1"
    assert not folder.exists() or list(folder.iterdir()) == []


@pytest.mark.parametrize(("job_rows", "jobs"), [(None, 5), (1, 5), (2_000, 3), (2_500, 2), (10_000, 1)])
def test_row_groups_gathered_into_jobs_write_the_same_rows_in_order(
    tmp_path: Path, job_rows: int | None, jobs: int
) -> None:
    lake = _source(tmp_path)
    run = run_stage(
        lake,
        measure_chars,
        3,
        lake.row_groups("documents", 0, "D1"),
        outputs=[partition_output("kept", "chars", OUT, "D1")],
        lineage=_lineage("chars", "D1"),
        workers=1,
        batch_rows=700,
        job_rows=job_rows,
    )
    assert run.jobs == jobs and run.rows_in == 5_000 and run.rows["kept"] == 3_333
    files = lake.files("chars", run.versions["kept"])
    assert len(files) == jobs  # one file per job and output
    kept = lake.read("chars", run.versions["kept"])
    expected = [f"D1-{n:06d}" for n in range(5_000) if n % 3]
    assert sorted(kept.column("id").to_pylist()) == expected
