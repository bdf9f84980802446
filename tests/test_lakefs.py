"""lakeFS as the version store: a branch per run, merges gated on checks, publications as tags, pins.

Touches: corpuslake.lakefs_store through the real ``lakefs`` SDK, against tests/lakefs_server.py (an
in-memory lakeFS API on loopback that validates every request body with the generated ``lakefs-sdk`` models
and answers with them); deltalake's ``lakefs://`` backend reaching that server's S3 gateway with the store's
storage options (tests/test_lakefs_gateway.py writes and reads real tables through it). The secret and the
key id are searched for in exception chains, ``repr``, and the logs (urllib3 and the SDK at DEBUG). The last
class runs the same calls against a real lakeFS server, with a Delta table written through deltalake, only
when ``LAKEFS_ENDPOINT`` (and ``LAKEFS_ACCESS_KEY_ID``, ``LAKEFS_SECRET_ACCESS_KEY``, ``LAKEFS_REPOSITORY``:
use a scratch repository, its main gets merges) is set.
"""

import base64
import json
import logging
import os
import pickle
import re
import socket
import traceback
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator

import lakefs
import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import TableNotFoundError

from corpuslake.lakefs_store import (
    LakeFSStoreError,
    LakeFSVersionStore,
    MergeConflictError,
    PublishedTagError,
    publication_tag,
    run_branch_name,
)
from corpuslake.names import InvalidNameError
from corpuslake.pins import PinError
from tests.conftest import LAKEFS_KEY_ID as KEY_ID
from tests.conftest import LAKEFS_REPO as REPO
from tests.conftest import LAKEFS_SECRET as SECRET
from tests.lakefs_server import LakeFSServer

RUN = "3f2a9c1e-7b4d-4e0f-9a55-0c6d2b1e8f77"  # a Dagster run id
API = f"/api/v1/repositories/{REPO}"


def _chain_text(error: BaseException) -> str:
    """The whole printed traceback, causes and contexts included: what a log of the failure would show."""
    return "".join(traceback.format_exception(error))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_run_gets_its_own_branch_from_main_once(server: LakeFSServer, store: LakeFSVersionStore) -> None:
    main = server.head(REPO, "main")
    branch = store.run_branch(RUN)
    assert branch == f"run-{RUN}" == run_branch_name(RUN)
    assert server.branches(REPO) == {"main": main, branch: main}

    server.stage(REPO, branch, "lake/scored/part-0.parquet", "rows of the first attempt")
    written = store.commit(branch, "first attempt", {"corpuslake.run_id": RUN})
    assert store.run_branch(RUN) == branch  # a retried run keeps its branch and what it wrote there
    assert server.head(REPO, branch) == written
    assert server.head(REPO, "main") == main

    creations = [r for r in server.requests if r.call == f"POST {API}/branches"]
    assert [r.body for r in creations] == [{"name": branch, "source": "main", "force": False, "hidden": False}] * 2
    assert [r.status for r in creations] == [201, 409]

    other = store.run_branch("retry_2", source=written)  # any ref can be the source
    assert server.head(REPO, other) == written


def test_a_commit_carries_its_message_and_metadata(server: LakeFSServer, store: LakeFSVersionStore) -> None:
    branch = store.run_branch(RUN)
    server.stage(REPO, branch, "lake/documents/part-0.parquet", "documents")
    commit_id = store.commit(branch, "ingest CC-MAIN-2024-10", {"corpuslake.run_id": RUN, "dump": "CC-MAIN-2024-10"})

    info = server.commit_info(REPO, commit_id)
    assert server.head(REPO, branch) == commit_id == info.id
    assert len(commit_id) == 64 and int(commit_id, 16) >= 0
    assert info.message == "ingest CC-MAIN-2024-10"
    assert info.metadata == {"corpuslake.run_id": RUN, "dump": "CC-MAIN-2024-10"}
    assert info.parents == [server.head(REPO, "main")]
    assert server.tree(REPO, branch) == {"lake/documents/part-0.parquet": b"documents"}
    assert server.tree(REPO, "main") == {}

    marker = store.commit(branch, "checks ran", {"checks": "3 passed"})  # nothing staged: allowed by default
    assert server.commit_info(REPO, marker).parents == [commit_id]
    with pytest.raises(LakeFSStoreError, match=r"committing on run-.*HTTP 400 commit: no changes") as empty:
        store.commit(branch, "nothing", {}, allow_empty=False)
    assert empty.value.status == 400
    assert server.head(REPO, branch) == marker

    server.clear_requests()
    with pytest.raises(ValueError, match="refusing to commit to main directly"):
        store.commit("main", "sneak", {})
    with pytest.raises(TypeError, match="strings to strings: rows"):
        store.commit(branch, "typed", {"rows": 3})  # type: ignore[dict-item]
    assert server.requests == []  # refused before any request


def test_only_a_run_whose_checks_passed_is_merged(server: LakeFSServer, store: LakeFSVersionStore) -> None:
    main = server.head(REPO, "main")
    failed = store.run_branch("failed-run")
    server.stage(REPO, failed, "lake/scored/part-0.parquet", "bad rows")
    failed_head = store.commit(failed, "scored", {})
    server.clear_requests()

    assert store.merge_if_passed(failed, checks_passed=False) is None
    assert server.requests == []  # main is not even asked
    assert server.head(REPO, "main") == main
    assert server.head(REPO, failed) == failed_head  # kept for inspection
    assert server.tree(REPO, failed) == {"lake/scored/part-0.parquet": b"bad rows"}

    passed = store.run_branch("passed-run")
    server.stage(REPO, passed, "lake/scored/part-0.parquet", "good rows")
    passed_head = store.commit(passed, "scored", {})
    merged = store.merge_if_passed(passed, checks_passed=True, metadata={"corpuslake.run_id": "passed-run"})

    assert merged is not None and merged == server.head(REPO, "main") != main
    info = server.commit_info(REPO, merged)
    assert info.parents == [main, passed_head]
    assert info.metadata == {"corpuslake.run_branch": "run-passed-run", "corpuslake.run_id": "passed-run"}
    assert server.tree(REPO, "main") == {"lake/scored/part-0.parquet": b"good rows"}
    assert store.commit_id("main") == merged

    with pytest.raises(TypeError, match="must be True or False, not list"):
        store.merge_if_passed(failed, checks_passed=["freshness failed"])  # type: ignore[arg-type]
    assert server.head(REPO, "main") == merged


def test_a_merge_conflict_merges_nothing(server: LakeFSServer, store: LakeFSVersionStore) -> None:
    first, second = store.run_branch("first"), store.run_branch("second")
    server.stage(REPO, first, "lake/catalog/part-0.parquet", "catalog of the first run")
    server.stage(REPO, second, "lake/catalog/part-0.parquet", "catalog of the second run")
    store.commit(first, "catalog", {})
    store.commit(second, "catalog", {})
    merged = store.merge_if_passed(first, True)

    with pytest.raises(MergeConflictError, match=r"merging run-second into main .* HTTP 409 conflict found") as error:
        store.merge_if_passed(second, True)
    assert error.value.status == 409
    assert server.head(REPO, "main") == merged
    assert server.tree(REPO, "main") == {"lake/catalog/part-0.parquet": b"catalog of the first run"}


def test_publications_are_tags_that_never_move(server: LakeFSServer, store: LakeFSVersionStore) -> None:
    branch = store.run_branch(RUN)
    server.stage(REPO, branch, "lake/snapshots/web-en/part-0.parquet", "v1")
    store.commit(branch, "publish web-en", {})
    first = store.merge_if_passed(branch, True)

    assert publication_tag("web-en", 1) == "corpuslake-web-en-1"
    assert store.tag_publication("web-en", 1) == first
    assert store.tag_publication("web-en", 1) == first  # the same commit again: a no-op
    assert server.tags(REPO) == {"corpuslake-web-en-1": first}

    later = store.run_branch("later")
    server.stage(REPO, later, "lake/snapshots/web-en/part-0.parquet", "v2")
    store.commit(later, "publish web-en again", {})
    second = store.merge_if_passed(later, True)
    with pytest.raises(PublishedTagError, match=rf"corpuslake://web-en@1 is already published .* on commit {first}"):
        store.tag_publication("web-en", 1)
    assert store.tag_publication("web-en", 2) == second
    assert store.tag_publication("web-de", 1, ref=first) == first  # a tag on an older commit, by id
    assert server.tags(REPO) == {
        "corpuslake-web-en-1": first,
        "corpuslake-web-en-2": second,
        "corpuslake-web-de-1": first,
    }

    assert store.resolve_pin("web-en", 1) == first
    assert store.resolve_pin("web-en", 2) == second
    assert server.tree(REPO, store.resolve_pin("web-en", 1)) == {"lake/snapshots/web-en/part-0.parquet": b"v1"}
    assert store.lake_root(store.resolve_pin("web-en", 1)) == f"lakefs://{REPO}/{first}/lake"


def test_an_unknown_pin_is_a_lookup_error_naming_it(server: LakeFSServer, store: LakeFSVersionStore) -> None:
    store.tag_publication("web", 1)
    with pytest.raises(LookupError, match=r"corpuslake://web@7: no lakeFS tag corpuslake-web-7 in repository corpus"):
        store.resolve_pin("web", 7)
    with pytest.raises(PinError, match="corpuslake://fineweb@1"):
        store.resolve_pin("fineweb", 1)
    # A branch that carries a publication tag's name is not a publication (a ref lookup would find it).
    client = lakefs.Client(host=server.endpoint, username=KEY_ID, password=SECRET)  # type: ignore[no-untyped-call]
    lakefs.Repository(REPO, client=client).branch("corpuslake-web-3").create("main")
    store.close()  # closes pooled connections only: the next call opens a new one
    assert store.commit_id("corpuslake-web-3") == server.head(REPO, "main")
    with pytest.raises(PinError, match="corpuslake://web@3"):
        store.resolve_pin("web", 3)


@pytest.mark.parametrize("run_id", ["", "a/b", "a b", "../main", "x;rm -rf", "run.1", "é", "a" * 201, "main\n"])
def test_run_ids_are_refused_unless_plain(server: LakeFSServer, store: LakeFSVersionStore, run_id: str) -> None:
    with pytest.raises(InvalidNameError, match="invalid run id") as error:
        store.run_branch(run_id)
    assert isinstance(error.value, ValueError)
    assert repr(run_id) in str(error.value)
    assert server.requests == []


def test_other_names_are_refused_before_any_request(server: LakeFSServer, store: LakeFSVersionStore) -> None:
    for name, number in [("a/b", 1), ("", 1), ("..", 1), ("web", 0), ("web", -1)]:
        with pytest.raises(ValueError, match=repr(name) if name in ("a/b", "", "..") else "invalid publication"):
            store.tag_publication(name, number)
    for bad_number in [True, "1", 1.0]:
        with pytest.raises(ValueError, match=f"invalid publication number {bad_number!r}"):
            store.resolve_pin("web", bad_number)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=re.escape("invalid source ref 'main/../x'")):
        store.run_branch("ok", source="main/../x")
    with pytest.raises(ValueError, match="invalid ref 'main/x'"):
        store.lake_root("main/x")
    with pytest.raises(ValueError, match=re.escape("invalid lake prefix '..'")):
        store.lake_root("main", "lake/../..")
    with pytest.raises(ValueError, match="invalid lakeFS repository 'Corpus_1'"):
        LakeFSVersionStore(server.endpoint, "Corpus_1", KEY_ID, SECRET)
    assert server.requests == []


def test_lake_roots_and_deltalake_options(server: LakeFSServer, store: LakeFSVersionStore) -> None:
    assert store.lake_root(f"run-{RUN}") == f"lakefs://{REPO}/run-{RUN}/lake"
    assert store.lake_root("main", "lake/scored") == f"lakefs://{REPO}/main/lake/scored"
    assert store.storage_options() == {
        "endpoint": server.endpoint,
        "access_key_id": KEY_ID,
        "secret_access_key": SECRET,
        "allow_http": "true",  # deltalake refuses a plain-HTTP endpoint without it
    }
    remote = LakeFSVersionStore("https://lakefs.internal/api/v1/", REPO, KEY_ID, SECRET)
    assert remote.endpoint == "https://lakefs.internal"
    assert (
        remote.storage_options()["endpoint"] == "https://lakefs.internal"
        and "allow_http" not in remote.storage_options()
    )

    # deltalake's lakefs backend takes these options: it reaches the server's S3 gateway path, signed with the
    # key; the signatures verify (a 404 for the missing checkpoint and an empty listing, not a 403), so a table
    # that is not there is reported as not found.
    with pytest.raises(TableNotFoundError) as error:
        DeltaTable(store.lake_root("main", "lake/scored"), storage_options=store.storage_options())
    gateway = [r for r in server.requests if not r.path.startswith("/api/")]
    assert {r.auth_scheme for r in gateway} == {"AWS4-HMAC-SHA256"}
    assert {(r.method, r.path, r.status) for r in gateway} == {
        ("GET", f"/{REPO}/main/lake/scored/_delta_log/_last_checkpoint", 404),
        ("GET", f"/{REPO}", 200),  # ListObjectsV2 of main/lake/scored/_delta_log/
    }
    assert SECRET not in _chain_text(error.value)


def test_credentials_never_show(
    server: LakeFSServer, store: LakeFSVersionStore, caplog: pytest.LogCaptureFixture
) -> None:
    for name in (None, "urllib3", "lakefs_sdk", "lakefs", "corpuslake"):
        caplog.set_level(logging.DEBUG, logger=name)
    assert repr(store) == f"LakeFSVersionStore(endpoint={server.endpoint!r}, repository='corpus', main='main')"
    assert str(store) == repr(store)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(store)

    branch = store.run_branch(RUN)
    store.commit(branch, "run", {"corpuslake.run_id": RUN})
    store.merge_if_passed(branch, True)
    store.tag_publication("web", 1)
    with pytest.raises(PublishedTagError) as moved:
        store.merge_if_passed(store.run_branch("again"), True)
        store.tag_publication("web", 1)
    with pytest.raises(PinError) as missing:
        store.resolve_pin("web", 9)

    wrong_secret = f"wrong-secret-{uuid.uuid4().hex}"
    with LakeFSVersionStore(server.endpoint, REPO, KEY_ID, wrong_secret) as intruder:
        with pytest.raises(LakeFSStoreError, match="HTTP 401 error authenticating request") as refused:
            intruder.run_branch(RUN)
        assert wrong_secret not in repr(intruder)
    unreachable = LakeFSVersionStore(f"http://127.0.0.1:{_closed_port()}", REPO, KEY_ID, SECRET)
    with pytest.raises(LakeFSStoreError, match="lakeFS could not be reached") as offline:
        unreachable.commit_id("main")
    with pytest.raises(ValueError, match="must not carry credentials") as in_url:
        LakeFSVersionStore(f"http://{KEY_ID}:{SECRET}@127.0.0.1:8000", REPO, KEY_ID, SECRET)
    with pytest.raises(ValueError, match="set LAKEFS_ENDPOINT, LAKEFS_REPOSITORY") as unset:
        LakeFSVersionStore.from_env({"LAKEFS_ACCESS_KEY_ID": KEY_ID, "LAKEFS_SECRET_ACCESS_KEY": SECRET})

    errors = [moved.value, missing.value, refused.value, offline.value, in_url.value, unset.value]
    texts = [repr(store), str(store), caplog.text, *(_chain_text(e) for e in errors)]
    assert "merged run-" in caplog.text and "POST /api/v1/repositories/corpus/tags" in caplog.text  # logs were on
    for text in texts:
        assert SECRET not in text and wrong_secret not in text and KEY_ID not in text
    assert all(r.auth_scheme == "Basic" for r in server.requests)


def test_the_sdk_makes_exactly_these_calls(server: LakeFSServer, store: LakeFSVersionStore) -> None:
    branch = store.run_branch(RUN)
    server.stage(REPO, branch, "lake/scored/part-0.parquet", "rows")
    commit_id = store.commit(branch, "scored", {"corpuslake.run_id": RUN})
    assert store.merge_if_passed(branch, False) is None
    merged = store.merge_if_passed(branch, True)
    assert store.tag_publication("web", 1) == merged
    assert store.tag_publication("web", 1) == merged
    assert store.resolve_pin("web", 1) == merged
    with pytest.raises(PinError):
        store.resolve_pin("web", 2)

    assert server.calls() == [
        f"POST {API}/branches",
        f"POST {API}/branches/{branch}/commits",
        f"POST {API}/refs/{branch}/merge/main",
        f"GET {API}/commits/main",
        f"POST {API}/tags",
        f"GET {API}/commits/main",
        f"POST {API}/tags",  # 409: already there
        f"GET {API}/tags/corpuslake-web-1",  # on the same commit: fine
        f"GET {API}/tags/corpuslake-web-1",
        f"GET {API}/tags/corpuslake-web-2",
    ]
    assert [r.status for r in server.requests] == [201, 201, 200, 200, 201, 200, 409, 200, 200, 404]
    bodies = [r.body for r in server.requests if r.method == "POST"]
    assert bodies[1] == {
        "message": "scored",
        "metadata": {"corpuslake.run_id": RUN},
        "allow_empty": True,
        "force": False,
    }
    assert bodies[2] == {
        "message": f"corpuslake: merge {branch} into main (checks passed)",
        "metadata": {"corpuslake.run_branch": branch},
        "force": False,
        "allow_empty": True,
        "squash_merge": False,
    }
    assert bodies[3] == {"id": "corpuslake-web-1", "ref": merged, "force": False}
    assert server.commit_info(REPO, merged).parents[1] == commit_id


def test_the_test_server_answers_like_lakefs(server: LakeFSServer) -> None:
    """Requests the SDK would never send: the server refuses them with lakeFS's Error model."""

    def call(path: str, body: object | None, auth: str | None) -> tuple[int, dict[str, str]]:
        request = urllib.request.Request(
            server.endpoint + path,
            data=None if body is None else json.dumps(body).encode(),
            method="GET" if body is None else "POST",
            headers={"Content-Type": "application/json", **({"Authorization": auth} if auth else {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return int(response.status), dict(json.loads(response.read()))
        except urllib.error.HTTPError as error:
            with error:
                return int(error.code), dict(json.loads(error.read()))

    good = "Basic " + base64.b64encode(f"{KEY_ID}:{SECRET}".encode()).decode()
    assert call(f"{API}/tags/x", None, None) == (401, {"message": "error authenticating request"})
    assert call(f"{API}/tags/x", None, "Basic " + base64.b64encode(b"a:b").decode())[0] == 401
    assert call("/api/v1/config", None, good) == (404, {"message": "path not found: GET /api/v1/config"})
    status, error = call(f"{API}/tags", {"id": "t", "ref": "main", "colour": "red"}, good)
    assert (status, error) == (400, {"message": "unknown fields in TagCreation: colour"})
    status, error = call(f"{API}/tags", {"id": "t"}, good)
    assert status == 400 and error["message"].startswith("invalid TagCreation") and "ref" in error["message"]
    assert call(f"{API}/tags", {"id": "t", "ref": "main"}, good) == (
        201,
        {"id": "t", "commit_id": server.head(REPO, "main")},
    )


# -- against a real lakeFS server -------------------------------------------------------------------------

REAL = os.environ.get("LAKEFS_ENDPOINT")


@pytest.mark.skipif(
    not REAL,
    reason="no lakeFS server: set LAKEFS_ENDPOINT, LAKEFS_ACCESS_KEY_ID, LAKEFS_SECRET_ACCESS_KEY and "
    "LAKEFS_REPOSITORY (a scratch repository) to run these against one",
)
class TestRealLakeFS:
    """The same calls against a real server, with a Delta table written through deltalake's lakefs backend.

    Every name is unique per run; the run branches and tags made here are deleted afterwards (the merges
    into the repository's main stay: use a scratch repository)."""

    @pytest.fixture
    def real(self) -> Iterator[tuple[LakeFSVersionStore, list[str], list[str]]]:
        store = LakeFSVersionStore.from_env()
        branches: list[str] = []
        tags: list[str] = []
        yield store, branches, tags
        client = lakefs.Client(  # type: ignore[no-untyped-call]
            host=store.endpoint + "/api/v1",
            username=os.environ["LAKEFS_ACCESS_KEY_ID"],
            password=os.environ["LAKEFS_SECRET_ACCESS_KEY"],
        )
        repo = lakefs.Repository(store.repository, client=client)
        for branch in branches:
            repo.branch(branch).delete()
        for tag in tags:
            repo.tag(tag).delete()
        store.close()

    def test_a_run_writes_on_its_branch_and_merges_only_when_checks_pass(
        self, real: tuple[LakeFSVersionStore, list[str], list[str]]
    ) -> None:
        store, branches, _ = real
        suffix = uuid.uuid4().hex[:12]
        rows = pa.table({"id": ["a", "b", "c"], "score": [0.1, 0.5, 0.9]})
        before = store.commit_id(store.main)

        failed = store.run_branch(f"itest-failed-{suffix}")
        branches.append(failed)
        write_deltalake(store.lake_root(failed, f"lake/itest_{suffix}"), rows, storage_options=store.storage_options())
        store.commit(failed, "itest: failed run", {"corpuslake.run_id": f"itest-failed-{suffix}"})
        assert store.merge_if_passed(failed, False) is None
        assert store.commit_id(store.main) == before

        passed = store.run_branch(f"itest-passed-{suffix}")
        branches.append(passed)
        assert store.run_branch(f"itest-passed-{suffix}") == passed
        table = store.lake_root(passed, f"lake/itest_{suffix}")
        write_deltalake(table, rows, storage_options=store.storage_options())
        store.commit(passed, "itest: passed run", {"corpuslake.run_id": f"itest-passed-{suffix}"})
        merged = store.merge_if_passed(passed, True)
        assert merged is not None and store.commit_id(store.main) == merged

        read = DeltaTable(store.lake_root(merged, f"lake/itest_{suffix}"), storage_options=store.storage_options())
        assert read.to_pyarrow_table().sort_by("id").equals(rows)

    def test_publications_and_pins(self, real: tuple[LakeFSVersionStore, list[str], list[str]]) -> None:
        store, branches, tags = real
        name = f"itest-{uuid.uuid4().hex[:12]}"
        branch = store.run_branch(name)
        branches.append(branch)
        store.commit(branch, "itest: publication", {})
        published = store.tag_publication(name, 1, ref=branch)
        tags.append(publication_tag(name, 1))
        assert store.tag_publication(name, 1, ref=published) == published
        assert store.resolve_pin(name, 1) == published

        store.commit(branch, "itest: later", {})
        with pytest.raises(PublishedTagError):
            store.tag_publication(name, 1, ref=branch)
        assert store.resolve_pin(name, 1) == published
        with pytest.raises(PinError, match=f"corpuslake://{name}@2"):
            store.resolve_pin(name, 2)

    def test_a_wrong_secret_is_refused_without_showing_it(
        self, real: tuple[LakeFSVersionStore, list[str], list[str]]
    ) -> None:
        store, _, _ = real
        wrong = f"wrong-{uuid.uuid4().hex}"
        bad = LakeFSVersionStore(store.endpoint, store.repository, os.environ["LAKEFS_ACCESS_KEY_ID"], wrong)
        with pytest.raises(LakeFSStoreError) as refused:
            bad.commit_id(bad.main)
        assert refused.value.status == 401
        assert wrong not in _chain_text(refused.value)
        assert os.environ["LAKEFS_SECRET_ACCESS_KEY"] not in _chain_text(refused.value)
