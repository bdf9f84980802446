"""The quality classifier's assets: its training set (table ``quality_training_set``) and the model
(registered in ``quality_models``)."""

from typing import TYPE_CHECKING

import dagster as dg

from assets.metadata import report_metadata
from corpuslake.pipeline import build_quality_training_set, train_quality_model
from corpuslake.quality.model import ModelConfig
from corpuslake.quality.training import TrainingSetConfig
from orchestration.config import config_class, to_dataclass
from orchestration.resources import LakeResource

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
    return dg.MaterializeResult(
        metadata=report_metadata(report, lake.root), data_version=dg.DataVersion(report.data_version)
    )


@dg.asset(deps=["quality_training_set"], group_name="quality", kinds={"fasttext"}, code_version="1")
def quality_model(
    context: dg.AssetExecutionContext, config: ModelStageConfig, lake: LakeResource
) -> dg.MaterializeResult:
    """The fastText quality classifier (DCLM's recipe: bigram features, P(hq) as the score), stored in
    the lake under its content hash and registered in ``quality_models`` with its training-set version,
    hyperparameters, and held-out precision, recall and AUC."""
    report = train_quality_model(lake.lake(), context.run.run_id, to_dataclass(ModelConfig, config))
    metadata = report_metadata(report, lake.root) | {
        "model_hash": report.extra["model_hash"],
        "heldout_precision": round(report.extra["precision"], 4),
        "heldout_recall": round(report.extra["recall"], 4),
        "heldout_auc": round(report.extra["auc"], 4),
    }
    return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(report.extra["model_hash"][:16]))
