"""lakeFS as the version store: a branch per run, merges gated on checks, publications as tags.

A run writes its Delta tables on its own branch (``run-<run id>``, created from ``main``) through
deltalake's ``lakefs://`` support (:meth:`LakeFSVersionStore.lake_root` and
:meth:`LakeFSVersionStore.storage_options`), and its checks read that branch. Only when every check
passed is the branch merged into ``main`` (:meth:`LakeFSVersionStore.merge_if_passed`); otherwise
``main`` stays exactly as it was and the branch is kept for inspection.

A published snapshot is a lakeFS tag ``corpuslake-<name>-<number>`` on the commit it was published
from. A published number never changes meaning: tagging it again on the same commit is a no-op, on
another commit an error. A pin ``corpuslake://<name>@<number>`` resolves through that tag to a commit
id, which is a ref deltalake reads like a branch (``lakefs://<repo>/<commit id>/lake``).

Credentials are held by the store and handed only to the lakeFS client and to deltalake (whose
``lakefs`` backend reads ``endpoint``, ``access_key_id`` and ``secret_access_key`` from its storage
options); they never appear in this module's messages, logs or in the store's ``repr``.
"""

import logging
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import lakefs
import pyarrow.fs as pafs
import urllib3
from lakefs.exceptions import (
    ConflictException,
    LakeFSException,
    NotFoundException,
    ServerException,
    api_exception_handler,
)

from corpuslake.locations import LAKEFS_SCHEME as SCHEME
from corpuslake.names import InvalidNameError, check_name
from corpuslake.pins import Pin, PinError

log = logging.getLogger(__name__)

RUN_BRANCH_PREFIX = "run-"
TAG_PREFIX = "corpuslake-"
API_PATH = "/api/v1"
ENV_VARIABLES = ("LAKEFS_ENDPOINT", "LAKEFS_ACCESS_KEY_ID", "LAKEFS_SECRET_ACCESS_KEY", "LAKEFS_REPOSITORY")
CREDENTIAL_VARIABLES = ("LAKEFS_ENDPOINT", "LAKEFS_ACCESS_KEY_ID", "LAKEFS_SECRET_ACCESS_KEY")

_RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
_REPOSITORY = re.compile(r"^[a-z0-9][a-z0-9-]{2,62}$")  # lakeFS's own rule for repository ids
_REF = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,254}$")  # branches, tags and commit ids we hand out


class LakeFSStoreError(RuntimeError):
    """A lakeFS request failed; the message names the operation and the server's answer, never credentials."""

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class MergeConflictError(LakeFSStoreError):
    """The run branch and its destination changed the same paths: nothing was merged."""


class PublishedTagError(LakeFSStoreError):
    """A publication's tag already points at another commit: a published number never changes meaning."""


def run_branch_name(run_id: str) -> str:
    """The branch of run ``run_id``; only letters, digits, ``_`` and ``-`` are accepted in a run id."""
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
        raise InvalidNameError(f"invalid run id {run_id!r}: use letters, digits, '_' or '-' (1 to 200 characters)")
    return RUN_BRANCH_PREFIX + run_id


def publication_tag(name: str, number: int) -> str:
    """The lakeFS tag of publication ``number`` of snapshot ``name``: ``corpuslake-<name>-<number>``."""
    check_name(name, "snapshot name")
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise ValueError(f"invalid publication number {number!r} of {name}: numbers are integers from 1")
    return f"{TAG_PREFIX}{name}-{number}"


def parse_lake_uri(uri: str) -> tuple[str, str, str]:
    """``lakefs://<repository>/<ref>/<prefix>`` as (repository, ref, prefix); the prefix may be several
    folders but not empty (the lake is a folder of the repository, never its root)."""
    if not isinstance(uri, str) or not uri.startswith(SCHEME):
        raise ValueError(f"not a lakeFS lake root: {uri!r} (expected lakefs://<repository>/<branch>/<folder>)")
    parts = uri.removeprefix(SCHEME).strip("/").split("/")
    if len(parts) < 3 or not all(parts):
        raise ValueError(
            f"a lakeFS lake root names a repository, a branch and a folder: lakefs://corpus/main/lake, not {uri}"
        )
    repository, ref, *prefix = parts
    if not _REPOSITORY.fullmatch(repository):
        raise InvalidNameError(
            f"invalid lakeFS repository {repository!r} in {uri}: 3 to 63 lowercase letters, digits or '-'"
        )
    return repository, _check_ref(ref), "/".join(check_name(p, "lake prefix") for p in prefix)


def _check_ref(ref: str, kind: str = "ref") -> str:
    if not isinstance(ref, str) or not _REF.fullmatch(ref) or ".." in ref:
        raise InvalidNameError(f"invalid {kind} {ref!r}: use letters, digits, '.', '_' or '-'")
    return ref


def _base_endpoint(endpoint: str) -> str:
    """``scheme://host[:port][/prefix]`` without a trailing ``/api/v1``; credentials in the URL are refused."""
    parts = urlsplit(endpoint.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("the lakeFS endpoint must be an http:// or https:// URL, e.g. http://lakefs.internal:8000")
    if parts.username is not None or parts.password is not None:
        # Never echo the URL: it holds the credentials we refuse.
        raise ValueError("the lakeFS endpoint must not carry credentials: pass access_key_id and secret_access_key")
    path = parts.path.rstrip("/").removesuffix(API_PATH).rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


class LakeFSVersionStore:
    """One lakeFS repository as corpuslake's version store (see the module docstring)."""

    def __init__(
        self,
        endpoint: str,
        repository: str,
        access_key_id: str,
        secret_access_key: str,
        main: str = "main",
    ) -> None:
        if not isinstance(repository, str) or not _REPOSITORY.fullmatch(repository):
            raise InvalidNameError(
                f"invalid lakeFS repository {repository!r}: 3 to 63 lowercase letters, digits or '-'"
            )
        if not access_key_id or not secret_access_key:
            raise ValueError("lakeFS credentials are missing: both an access key id and a secret access key are needed")
        self.endpoint = _base_endpoint(endpoint)
        self.repository = repository
        self.main = _check_ref(main, "branch")
        self.__access_key_id = access_key_id
        self.__secret_access_key = secret_access_key
        self._client = lakefs.Client(  # type: ignore[no-untyped-call]  # the SDK's Client takes **kwargs untyped
            host=self.endpoint + API_PATH, username=access_key_id, password=secret_access_key
        )
        self._repo = lakefs.Repository(repository, client=self._client)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "LakeFSVersionStore":
        """A store from ``LAKEFS_ENDPOINT``, ``LAKEFS_ACCESS_KEY_ID``, ``LAKEFS_SECRET_ACCESS_KEY`` and
        ``LAKEFS_REPOSITORY``; the error for missing ones names the variables, never a value."""
        env = os.environ if environ is None else environ
        missing = [name for name in ENV_VARIABLES if not env.get(name)]
        if missing:
            raise ValueError(f"lakeFS is not configured: set {', '.join(missing)}")
        return cls(
            env["LAKEFS_ENDPOINT"],
            env["LAKEFS_REPOSITORY"],
            env["LAKEFS_ACCESS_KEY_ID"],
            env["LAKEFS_SECRET_ACCESS_KEY"],
        )

    @classmethod
    def for_lake(cls, root: str, environ: Mapping[str, str] | None = None) -> "LakeFSVersionStore":
        """The store of a ``lakefs://<repository>/<branch>/<folder>`` lake root: the repository and the main
        branch come from the root, the endpoint and the credentials from ``LAKEFS_ENDPOINT``,
        ``LAKEFS_ACCESS_KEY_ID`` and ``LAKEFS_SECRET_ACCESS_KEY``."""
        repository, main, _ = parse_lake_uri(root)
        env = os.environ if environ is None else environ
        endpoint, key_id, secret = _credentials(env, root)
        return cls(endpoint, repository, key_id, secret, main=main)

    def __repr__(self) -> str:
        return f"LakeFSVersionStore(endpoint={self.endpoint!r}, repository={self.repository!r}, main={self.main!r})"

    def __reduce__(self) -> Any:
        # Pickling would copy the secret into whatever stores the pickle (a run's event log, a cache).
        raise TypeError("a LakeFSVersionStore holds credentials and cannot be pickled: build it from settings")

    def close(self) -> None:
        """Close the client's pooled connections (the store can still be used: they reopen on demand)."""
        self._client.sdk_client._api.rest_client.pool_manager.clear()

    def __enter__(self) -> "LakeFSVersionStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- where deltalake reads and writes -------------------------------------------------------------

    def lake_root(self, ref: str, prefix: str = "lake") -> str:
        """The deltalake URI of the lake at ``ref`` (a branch, a tag or a commit id): writes go to a run
        branch, reads of a pinned snapshot to the commit its tag names."""
        parts = [check_name(p, "lake prefix") for p in prefix.strip("/").split("/")]
        return "/".join([f"lakefs://{self.repository}", _check_ref(ref), *parts])

    def storage_options(self) -> dict[str, str]:
        """deltalake's options for ``lakefs://`` URIs: the endpoint and the credentials (deltalake's lakefs
        backend speaks the lakeFS API and its S3 gateway at the same endpoint). Hand them only to deltalake:
        they hold the secret."""
        return _deltalake_options(self.endpoint, self.__access_key_id, self.__secret_access_key)

    # -- runs -----------------------------------------------------------------------------------------

    def run_branch(self, run_id: str, source: str = "main") -> str:
        """Create the branch of run ``run_id`` from ``source`` unless it exists already; return its name.

        Creating it again (a retried or resumed run) keeps the branch and what the run wrote there."""
        branch = run_branch_name(run_id)
        _check_ref(source, "source ref")
        with self._lakefs(f"creating branch {branch} from {source}"):
            self._repo.branch(branch).create(source, exist_ok=True)
        log.info("lakeFS %s: run branch %s (from %s)", self.repository, branch, source)
        return branch

    def commit(self, branch: str, message: str, metadata: Mapping[str, str], allow_empty: bool = True) -> str:
        """Commit what is staged on ``branch`` with ``message`` and string ``metadata``; return the commit id.

        deltalake's lakefs backend already commits each table write on the branch, so a run's own commit
        usually only records its metadata (run id, lineage): empty commits are allowed unless told otherwise.
        ``main`` is never committed to directly: it changes only by :meth:`merge_if_passed`."""
        _check_ref(branch, "branch")
        if branch == self.main:
            raise ValueError(f"refusing to commit to {self.main} directly: write on a run branch and merge it")
        return self.commit_writes(branch, message, metadata, allow_empty)

    def commit_writes(self, branch: str, message: str, metadata: Mapping[str, str], allow_empty: bool = True) -> str:
        """Commit what a writer staged on ``branch``, whichever branch it is: a :class:`~corpuslake.store.Lake`
        commits the files it writes without deltalake on the branch it is on (a run's branch, or the
        branch a lake root names outside runs). :meth:`commit` is the guarded form for callers."""
        _check_ref(branch, "branch")
        bad = sorted(str(k) for k, v in metadata.items() if not isinstance(k, str) or not isinstance(v, str))
        if bad:
            raise TypeError(f"lakeFS commit metadata must map strings to strings: {', '.join(bad)}")
        with self._lakefs(f"committing on {branch}"):
            ref = self._repo.branch(branch).commit(message=message, metadata=dict(metadata), allow_empty=allow_empty)
        commit_id = str(ref.id)
        log.info("lakeFS %s: committed %s on %s", self.repository, commit_id, branch)
        return commit_id

    def merge_if_passed(
        self,
        branch: str,
        checks_passed: bool,
        into: str = "main",
        metadata: Mapping[str, str] | None = None,
    ) -> str | None:
        """Merge ``branch`` into ``into`` and return the merge commit id, only when the checks passed.

        When they failed nothing is sent to lakeFS: ``into`` keeps its commit and ``branch`` is kept for
        inspection; the result is None. A conflict with changes merged meanwhile raises
        :class:`MergeConflictError` and merges nothing."""
        if not isinstance(checks_passed, bool):
            raise TypeError(f"checks_passed must be True or False, not {type(checks_passed).__name__}")
        _check_ref(branch, "branch")
        _check_ref(into, "branch")
        if branch == into:
            raise ValueError(f"cannot merge {branch} into itself")
        if not checks_passed:
            log.warning(
                "lakeFS %s: checks failed on %s, not merged: %s is unchanged, %s is kept for inspection",
                self.repository,
                branch,
                into,
                branch,
            )
            return None
        with self._lakefs(f"merging {branch} into {into}", conflict=MergeConflictError):
            merge_id = self._repo.branch(branch).merge_into(
                into,
                message=f"corpuslake: merge {branch} into {into} (checks passed)",
                metadata={"corpuslake.run_branch": branch, **(metadata or {})},
                allow_empty=True,  # a run that changed nothing is still recorded on main
            )
        log.info("lakeFS %s: merged %s into %s as %s", self.repository, branch, into, merge_id)
        return str(merge_id)

    def commit_id(self, ref: str) -> str:
        """The commit id that ``ref`` (a branch, a tag or a commit id) points at now."""
        with self._lakefs(f"resolving {ref}"):
            return str(self._repo.ref(_check_ref(ref)).get_commit().id)

    # -- publications ---------------------------------------------------------------------------------

    def tag_publication(self, name: str, number: int, ref: str = "main") -> str:
        """Tag the commit ``ref`` points at as publication ``number`` of ``name``; return the commit id.

        Tagging the same commit again is a no-op; a tag already on another commit raises
        :class:`PublishedTagError` and is left as it is."""
        tag = publication_tag(name, number)
        commit_id = self.commit_id(ref)  # tag the commit, not the moving branch head
        try:
            with self._lakefs(f"creating tag {tag} on {commit_id}"):
                self._repo.tag(tag).create(commit_id)
        except LakeFSStoreError as error:
            if error.status != 409:
                raise
            existing = self._tag_commit(tag)
            if existing != commit_id:
                raise PublishedTagError(
                    f"{Pin(name, number)} is already published as tag {tag} on commit {existing}, not {commit_id}: "
                    "a published number never changes meaning, publish under the next number",
                    409,
                ) from None
            log.info("lakeFS %s: tag %s already on %s", self.repository, tag, commit_id)
            return commit_id
        log.info("lakeFS %s: tagged %s as %s", self.repository, commit_id, tag)
        return commit_id

    def resolve_pin(self, name: str, number: int) -> str:
        """The commit id of ``corpuslake://<name>@<number>``: a :class:`PinError` (a LookupError) when the
        repository has no tag for it."""
        tag = publication_tag(name, number)
        try:
            return self._tag_commit(tag)
        except LakeFSStoreError as error:
            if error.status == 404:
                raise PinError(
                    f"{Pin(name, number)}: no lakeFS tag {tag} in repository {self.repository} at {self.endpoint}"
                ) from None
            raise

    def _tag_commit(self, tag: str) -> str:
        # The tags API, not a ref lookup: a branch that happened to carry the tag's name must not resolve.
        with self._lakefs(f"reading tag {tag}"), api_exception_handler():
            found = self._client.sdk_client.tags_api.get_tag(self.repository, tag)
        return str(found.commit_id)

    # -- errors ---------------------------------------------------------------------------------------

    @contextmanager
    def _lakefs(self, what: str, conflict: type[LakeFSStoreError] = LakeFSStoreError) -> Iterator[None]:
        """Turn the SDK's errors into :class:`LakeFSStoreError` naming the operation and the server's answer."""
        where = f"lakeFS repository {self.repository} at {self.endpoint}"
        try:
            yield
        except NotFoundException as error:
            raise LakeFSStoreError(f"{what} in {where} failed: {_answer(error)}", 404) from error
        except ConflictException as error:
            raise conflict(f"{what} in {where} failed: {_answer(error)}", 409) from error
        except ServerException as error:
            raise LakeFSStoreError(f"{what} in {where} failed: {_answer(error)}", error.status_code) from error
        except LakeFSException as error:
            raise LakeFSStoreError(f"{what} in {where} failed: {type(error).__name__}") from error
        except urllib3.exceptions.HTTPError as error:
            raise LakeFSStoreError(f"{what} in {where} failed: lakeFS could not be reached ({error})") from error


def _credentials(env: Mapping[str, str], root: str) -> tuple[str, str, str]:
    missing = [name for name in CREDENTIAL_VARIABLES if not env.get(name)]
    if missing:
        raise ValueError(f"the lake {root} is on lakeFS: set {', '.join(missing)}")
    return env["LAKEFS_ENDPOINT"], env["LAKEFS_ACCESS_KEY_ID"], env["LAKEFS_SECRET_ACCESS_KEY"]


def lake_storage_options(root: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """deltalake's options for a ``lakefs://`` lake root, from the ``LAKEFS_*`` variables (credentials are
    read when needed and never stored in a :class:`~corpuslake.store.Lake`)."""
    parse_lake_uri(root)
    endpoint, key_id, secret = _credentials(os.environ if environ is None else environ, root)
    return _deltalake_options(_base_endpoint(endpoint), key_id, secret)


def _deltalake_options(endpoint: str, key_id: str, secret: str) -> dict[str, str]:
    options = {"endpoint": endpoint, "access_key_id": key_id, "secret_access_key": secret}
    if endpoint.startswith("http://"):
        options["allow_http"] = "true"  # deltalake refuses plain http unless told
    return options


def _answer(error: ServerException) -> str:
    message = error.body.get("message") if isinstance(error.body, dict) else None
    return f"HTTP {error.status_code} {message or error.reason or 'no message'}"


class LakeFSBackend:
    """What a :class:`~corpuslake.store.Lake` on lakeFS does differently from one on a filesystem or S3.

    deltalake's options for its ``lakefs://`` backend; lakeFS's S3 gateway for the files corpuslake writes
    itself and for the transactions it builds by hand (deltalake's lakefs backend runs only the
    transactions it starts); and the lakeFS commit that must follow such writes, because lakeFS merges
    nothing into a branch holding uncommitted changes. Credentials are read from ``LAKEFS_*`` at each
    call and never kept.
    """

    def __init__(self, root: str) -> None:
        parse_lake_uri(root)
        self.root = root

    def storage_options(self) -> dict[str, str]:
        return lake_storage_options(self.root)

    def gateway_filesystem(self, uri: str) -> tuple[pafs.FileSystem, str]:
        """Arrow's S3 client on the gateway, and the key of ``uri``: the repository is the bucket and the
        ref the first folder of every key."""
        options = self.storage_options()
        endpoint = urlsplit(options["endpoint"])
        gateway = pafs.S3FileSystem(
            access_key=options["access_key_id"],
            secret_key=options["secret_access_key"],
            endpoint_override=endpoint.netloc + endpoint.path.rstrip("/"),
            scheme=endpoint.scheme,
            region="us-east-1",
            allow_bucket_creation=False,
            allow_bucket_deletion=False,
        )
        return gateway, uri.removeprefix(SCHEME)

    def gateway_location(self, table_uri: str) -> tuple[str, dict[str, str]]:
        """``table_uri`` as deltalake's S3 backend reaches it through the gateway: log entries are
        conditional puts (``If-None-Match``, which lakeFS honours) on the lake's own branch."""
        options = self.storage_options()
        gateway = {
            "aws_endpoint": options["endpoint"],
            "aws_access_key_id": options["access_key_id"],
            "aws_secret_access_key": options["secret_access_key"],
            "aws_region": "us-east-1",
            "conditional_put": "etag",
        }
        if "allow_http" in options:
            gateway["aws_allow_http"] = options["allow_http"]
        return "s3://" + table_uri.removeprefix(SCHEME), gateway

    def commit_writes(self, message: str) -> None:
        """Commit in lakeFS what was written on the lake's branch without deltalake's lakefs backend."""
        _, ref, prefix = parse_lake_uri(self.root)
        with LakeFSVersionStore.for_lake(self.root) as store:
            store.commit_writes(ref, message, {"corpuslake.lake": prefix}, allow_empty=True)
