"""The model-based quality assets: the training set, the classifier, and the scores of each dump."""

from typing import TYPE_CHECKING

import dagster as dg

from assets.metadata import report_metadata
from corpuslake.pipeline import build_quality_training_set, score_documents, train_quality_model
from corpuslake.quality.model import ModelConfig
from corpuslake.quality.training import TrainingSetConfig
from corpuslake.scan import head
from orchestration.config import config_class, to_dataclass
from orchestration.partitions import dump_partitions
from orchestration.resources import ComputeResource, LakeResource

if TYPE_CHECKING:
    TrainingSetStageConfig = dg.Config
    ModelStageConfig = dg.Config
else:
    TrainingSetStageConfig = config_class(TrainingSetConfig, "TrainingSetStageConfig")
    ModelStageConfig = config_class(ModelConfig, "ModelStageConfig")


@dg.asset(group_name="quality", kinds={"deltalake"}, code_version="1")
def quality_training_set(
    context: dg.AssetExecutionContext, config: TrainingSetStageConfig, lake: LakeResource
) -> dg.MaterializeResult:
    """Labelled examples for the quality classifier, one row each: text, label (hq: edited prose; cc:
    ordinary or junk web text), source, and split (train or heldout, by a hash of the text), balanced
    between the labels."""
    report = build_quality_training_set(lake.lake(), context.run.run_id, to_dataclass(TrainingSetConfig, config))
    return dg.MaterializeResult(metadata=report_metadata(report), data_version=dg.DataVersion(report.data_version))


@dg.asset(deps=["quality_training_set"], group_name="quality", kinds={"fasttext"}, code_version="1")
def quality_model(
    context: dg.AssetExecutionContext, config: ModelStageConfig, lake: LakeResource
) -> dg.MaterializeResult:
    """The fastText quality classifier (DCLM's recipe: bigram features, P(hq) as the score), stored in
    the lake under its content hash and registered in ``quality_models`` with its training-set version,
    hyperparameters, and held-out precision, recall and AUC."""
    report = train_quality_model(lake.lake(), context.run.run_id, to_dataclass(ModelConfig, config))
    metadata = report_metadata(report) | {
        "model_hash": report.extra["model_hash"],
        "heldout_precision": round(report.extra["precision"], 4),
        "heldout_recall": round(report.extra["recall"], 4),
        "heldout_auc": round(report.extra["auc"], 4),
    }
    return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(report.extra["model_hash"][:16]))


@dg.asset(
    partitions_def=dump_partitions,
    deps=["deduplicated", "quality_model"],
    group_name="quality",
    kinds={"deltalake"},
    code_version="1",
)
def scored(context: dg.AssetExecutionContext, lake: LakeResource, compute: ComputeResource) -> dg.MaterializeResult:
    """One row per deduplicated document of a dump with ``quality_score`` (the classifier's P(hq)) and
    ``quality_model`` (the model's hash). Nothing is dropped: snapshots select by threshold or top percent."""
    dump = context.partition_key
    store = lake.lake()
    report = score_documents(store, dump, context.run.run_id, compute.resolved_workers(), context.log.info)
    # the best-scored of the partition's first 1,000 rows: a preview never reads the whole partition
    preview = head(
        store.dataset("scored", report.version), {"dump": dump}, ["id", "url", "quality_score", "text"], 1_000
    )
    metadata = report_metadata(report, preview.sort_by([("quality_score", "descending")]).slice(0, 10)) | {
        "model_hash": report.extra["model_hash"],
        "mean_quality_score": round(report.extra["mean_score"], 4),
        "docs_per_second_per_worker": round(report.extra["docs_per_second_per_worker"]),
    }
    return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(report.data_version))
