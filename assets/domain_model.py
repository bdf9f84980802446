"""The domain model's asset: a topic model of the scored documents, registered in ``domain_models``."""

from typing import TYPE_CHECKING

import dagster as dg

from corpuslake.domains.model import DomainModelConfig
from corpuslake.domains.run import STAGE_VERSION, code_version, train_model
from orchestration.config import config_class, to_dataclass
from orchestration.resources import LakeResource

if TYPE_CHECKING:
    DomainModelStageConfig = dg.Config
else:
    DomainModelStageConfig = config_class(DomainModelConfig, "DomainModelStageConfig")


@dg.asset(deps=["scored"], group_name="domains", kinds={"scikitlearn"}, code_version=STAGE_VERSION)
def domain_model(
    context: dg.AssetExecutionContext, config: DomainModelStageConfig, lake: LakeResource
) -> dg.MaterializeResult:
    """Unsupervised domains of the corpus: TF-IDF over a bounded vocabulary, TruncatedSVD and k-means
    (scikit-learn), fitted on a sample of the latest ``scored`` version chosen by a hash of dump and id.
    Each domain (``c00`` the largest) is named by its top terms and a few example URLs. The model file is
    stored in the lake under its content hash and registered in ``domain_models`` with its training
    version, parameters and domain names: the same sample and seed give the same file and labels."""
    stage_config = to_dataclass(DomainModelConfig, config)
    registry, model, digest = train_model(lake.lake(), context.run.run_id, stage_config, code_version())
    lines = ["| domain | documents | name | example URLs |", "| --- | ---: | --- | --- |"]
    lines += [f"| {d.domain} | {d.documents:,} | {d.name} | {' '.join(d.urls)} |" for d in model.domains]
    training = model.header["training"]
    metadata = {
        "lake": lake.root,
        "model_hash": digest,
        "table_version": f"domain_models@v{registry}",
        "upstream_versions": f"{training['table']}@v{training['version']}",
        "training_documents": training["documents"],
        "k": stage_config.k,
        "domains": dg.MetadataValue.md("\n".join(lines)),
    }
    return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(digest[:16]))
