"""Which exact versions a stage's check audits: the stage's latest commit, the upstream version its
lineage names, and the rejections commit written by the same run (the same lineage commit id)."""

from dataclasses import dataclass

from corpuslake.lineage import TableVersion
from corpuslake.store import Lake


@dataclass(frozen=True)
class Audited:
    version: int
    upstream: TableVersion
    rejections_version: int

    def describe(self, table: str) -> str:
        return f"{table}@v{self.version}, {self.upstream}, rejections@v{self.rejections_version}"


def audited_versions(store: Lake, table: str, upstream_table: str) -> Audited | None:
    """The versions to audit for ``table``, or None when the table does not exist yet."""
    version = store.version(table)
    if version is None:
        return None
    lineage = store.lineage(table, version)
    upstream = next(u for u in lineage.upstream if u.table == upstream_table)
    return Audited(version, upstream, store.version_of_commit("rejections", lineage.commit_id))
