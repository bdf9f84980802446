"""Faults: corrupted WARC bytes and hostile HTML never crash the readers (property-based, bounded), and
a stage process killed at any moment never leaves a half-written table version visible.
Touches: files and a lake under tmp_path, child processes."""

import gzip
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpuslake.extract import extract_text
from corpuslake.filters import url
from corpuslake.filters.chain import FilterConfig
from corpuslake.lineage import Lineage
from corpuslake.maintenance import collect_garbage
from corpuslake.pipeline import extract_documents, filter_documents, ingest_crawl_files
from corpuslake.settings import SAMPLE_LANDING
from corpuslake.stages.documents import DocumentsConfig
from corpuslake.store import Lake, LakeWriteError
from corpuslake.warc import NotAWarcFileError, WarcDamage, WarcRecordData, iter_warc
from tests.conftest import LANDING

WARC_GZ = (LANDING / "FIXTURE-B" / "part-00000.warc.gz").read_bytes()
WARC_PLAIN = gzip.decompress(WARC_GZ)

# a mutation: positions and replacement bytes, plus an optional cut
mutations = st.tuples(
    st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=24),
    st.one_of(st.none(), st.integers(min_value=0)),
    st.sampled_from(["gz", "plain"]),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutation=mutations)
def test_mutated_warc_files_give_records_or_damage_never_an_exception(tmp_path: Path, mutation: tuple) -> None:  # type: ignore[type-arg]
    flips, cut, kind = mutation
    data = bytearray(WARC_GZ if kind == "gz" else WARC_PLAIN)
    for position, value in flips:
        data[position % len(data)] = value
    if cut is not None:
        del data[cut % len(data) :]
    path = tmp_path / f"mutated.warc{'.gz' if kind == 'gz' else ''}"
    path.write_bytes(bytes(data))
    try:
        items = list(iter_warc(path, max_payload_bytes=1 << 20))
    except NotAWarcFileError:
        return  # the first bytes no longer look like WARC: a clear, file-level rejection
    for item in items:
        assert isinstance(item, WarcRecordData | WarcDamage)
        if isinstance(item, WarcRecordData) and item.payload is not None:
            result = extract_text(item.payload, item.charset, 0.05)
            assert (result.text is None) == (result.reason is not None)


@settings(max_examples=150, deadline=None)
@given(
    payload=st.one_of(
        st.binary(max_size=4_000),
        st.text(max_size=2_000).map(lambda t: f"<html><body><p>{t}</p></body></html>".encode("utf-8", "surrogatepass")),
        st.integers(1, 3_000).map(lambda depth: ("<div>" * depth + "deep" + "</div>" * depth).encode()),
    ),
    charset=st.one_of(st.none(), st.sampled_from(["utf-8", "latin-1", "shift_jis", "bogus-charset", "utf-16"])),
)
def test_hostile_html_gives_text_or_a_reason(payload: bytes, charset: str | None) -> None:
    result = extract_text(payload, charset, 0.05)
    assert (result.text is None) == (result.reason is not None)
    assert result.text is None or result.text.strip()


CHILD = textwrap.dedent(
    """
    import sys
    from corpuslake.filters import url
    from corpuslake.filters.chain import FilterConfig
    from corpuslake.pipeline import filter_documents
    from corpuslake.store import Lake

    if __name__ == "__main__":
        lake = Lake(sys.argv[1], cache=sys.argv[2])
        print("started", flush=True)
        filter_documents(lake, "SAMPLE-2024-10", "killed-run", FilterConfig(url=url.UrlConfig()), workers=1)
        print("finished", flush=True)
    """
)


def _start_stage(folder: Path, lake: Lake, cache: Path) -> subprocess.Popen[str]:
    """The filter stage of SAMPLE-2024-10 in a child process; it prints "started" once running."""
    script = folder / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    return subprocess.Popen(
        [sys.executable, str(script), lake.root, str(cache)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def killable_lake(tmp_path_factory: pytest.TempPathFactory, blocklist_cache: Path) -> Lake:
    lake = Lake(str(tmp_path_factory.mktemp("lake")), cache=str(blocklist_cache))
    ingest_crawl_files(lake, SAMPLE_LANDING, "SAMPLE-2024-10", "run", workers=2)
    extract_documents(lake, "SAMPLE-2024-10", "run", DocumentsConfig(), workers=2)
    return lake


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.3, 0.9, 1.5, 2.2, 3.0])
def test_a_stage_killed_at_any_moment_leaves_no_partial_version(
    killable_lake: Lake, tmp_path: Path, blocklist_cache: Path, delay: float
) -> None:
    lake = killable_lake
    clean = filter_documents(lake, "SAMPLE-2024-10", "clean", FilterConfig(url=url.UrlConfig()), workers=1)
    expected = lake.read("filtered", clean.version).sort_by("id")
    child = _start_stage(tmp_path, lake, blocklist_cache)
    assert child.stdout is not None and child.stdout.readline().strip() == "started"
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)  # no cleanup, no exception handler runs
    child.communicate()  # reap it and close its pipes
    after = lake.version("filtered")
    assert after is not None and after in (clean.version, clean.version + 1)
    # whatever the moment, the latest version is whole: either the clean one or a complete new commit
    assert lake.read("filtered", after).sort_by("id").equals(expected)
    rejected = lake.read("rejections", filters={"stage": "filtered"}).num_rows
    assert rejected == clean.counters["documents"] - clean.counters["kept"]
    again = filter_documents(lake, "SAMPLE-2024-10", "rerun", FilterConfig(url=url.UrlConfig()), workers=1)
    assert lake.read("filtered", again.version).sort_by("id").equals(expected)
    # The killed run's workers may have written files no commit added: invisible to every reader (above),
    # and removed by gc once older than the retention (0 hours here).
    collect_garbage(lake, retention_hours=0, tables=["filtered"])
    folder = Path(lake.table_uri("filtered")) / "dump=SAMPLE-2024-10"
    on_disk = {f"dump=SAMPLE-2024-10/{p.name}" for p in folder.iterdir()}
    assert on_disk == {f["path"] for f in lake.files("filtered", again.version) if "SAMPLE-2024-10" in f["path"]}
    assert lake.read("filtered", again.version).sort_by("id").equals(expected)


def test_staging_folders_of_dead_processes_are_removed(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    base = tmp_path / "lake" / "_staging"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    host = os.uname().nodename
    folders = {name: base / name for name in ("dead", "alive", "ownerless-old", "ownerless-new")}
    for folder in folders.values():
        folder.mkdir(parents=True)
        (folder / "part.parquet").write_bytes(b"x")
    (folders["dead"] / ".owner").write_text(f"{host} {dead.stdout.strip()}")
    (folders["alive"] / ".owner").write_text(f"{host} {os.getpid()}")  # a run in progress
    day_ago = time.time() - 2 * 24 * 3600
    os.utime(folders["ownerless-old"], (day_ago, day_ago))
    with lake.staging() as mine:
        left = {p.name for p in base.iterdir()} - {mine.name}
    assert left == {"alive", "ownerless-new"}
    assert not mine.exists()


@pytest.mark.slow
def test_two_runs_of_one_partition_at_once_never_leave_both_halves(
    killable_lake: Lake, tmp_path: Path, blocklist_cache: Path
) -> None:
    lake = killable_lake
    clean = filter_documents(lake, "SAMPLE-2024-10", "clean", FilterConfig(url=url.UrlConfig()), workers=1)
    expected = lake.read("filtered", clean.version).sort_by("id")
    children = [_start_stage(tmp_path, lake, blocklist_cache) for _ in range(2)]
    outputs = [child.communicate(timeout=300) for child in children]
    codes = [child.returncode for child in children]
    assert 0 in codes, outputs  # at least one run commits
    for code, (_, err) in zip(codes, outputs, strict=True):
        if code != 0:  # the other may lose the race: it must say so, not corrupt anything
            assert "conflict" in err.lower() or "commit" in err.lower(), err[-2000:]
    assert lake.read("filtered").sort_by("id").equals(expected)  # one run's rows, never two runs' rows
    rejected = lake.read("rejections", filters={"stage": "filtered"}).num_rows
    assert rejected == clean.counters["documents"] - clean.counters["kept"]


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MiB tmpfs: a lake that runs out of space (mounting needs root, as on CI machines)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_a_full_disk_is_a_clear_error_and_no_half_version(tiny_disk: Path) -> None:
    lake = Lake(str(tiny_disk / "lake"))
    small = pa.table({"dump": ["D1"] * 3, "id": ["a", "b", "c"]})
    first = lake.write_partition("documents", small, Lineage("documents", "D1", "r1", "t", {}), {"dump": "D1"})
    rng = np.random.default_rng(0)
    noise = [rng.bytes(4_000).hex() for _ in range(1_000)]  # 8 MB of incompressible text
    big = pa.table({"dump": ["D1"] * len(noise), "id": noise})
    with pytest.raises(LakeWriteError, match=rf"nothing was committed and it is still at v{first}"):
        lake.write_partition("documents", big, Lineage("documents", "D1", "r2", "t", {}), {"dump": "D1"})
    assert lake.version("documents") == first
    assert lake.read("documents", dumps=["D1"])["id"].to_pylist() == ["a", "b", "c"]


def test_a_read_only_lake_is_a_clear_error_and_no_half_version(tiny_disk: Path) -> None:
    """Root can write through file permissions; a read-only mount stops it, as a read-only volume would."""
    lake = Lake(str(tiny_disk / "lake"))
    small = pa.table({"dump": ["D1"] * 3, "id": ["a", "b", "c"]})
    first = lake.write_partition("documents", small, Lineage("documents", "D1", "r1", "t", {}), {"dump": "D1"})
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_disk)], check=True)
    try:
        other = pa.table({"dump": ["D1"], "id": ["z"]})
        with pytest.raises(LakeWriteError, match=rf"nothing was committed and it is still at v{first}.*[Rr]ead-only"):
            lake.write_partition("documents", other, Lineage("documents", "D1", "r2", "t", {}), {"dump": "D1"})
        with pytest.raises(LakeWriteError, match="nothing was committed"):
            lake.write_ordered("snapshots/web", other, Lineage("snapshots", "web", "r2", "t", {}), first)
        assert lake.version("documents") == first
        assert lake.read("documents", dumps=["D1"])["id"].to_pylist() == ["a", "b", "c"]  # still readable
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(tiny_disk)], check=False)
