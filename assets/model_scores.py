"""The ``model_scores`` asset: users' own quality models' scores, percentile buckets and combined bucket."""

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import dagster as dg

from assets.metadata import report_metadata
from corpuslake.quality.model_scores import STAGE_VERSION, score_dump
from corpuslake.quality.user_models import ModelScoresConfig, UserModel, resolve
from corpuslake.scan import head
from orchestration.config import config_class, to_dataclass
from orchestration.partitions import dump_partitions
from orchestration.resources import ComputeResource, LakeResource

if TYPE_CHECKING:
    ModelScoresStageConfig = dg.Config
else:
    ModelScoresStageConfig = config_class(ModelScoresConfig, "ModelScoresStageConfig")


@dg.asset(
    partitions_def=dump_partitions,
    deps=["scored"],
    group_name="quality",
    kinds={"deltalake"},
    code_version=STAGE_VERSION,
)
def model_scores(
    context: dg.AssetExecutionContext, config: ModelScoresStageConfig, lake: LakeResource, compute: ComputeResource
) -> dg.MaterializeResult:
    """One row per scored document of a dump for each user model (a fastText .bin or a Hugging Face
    classifier directory, by path; or ``ours``, the quality_score of ``scored``): ``score_<name>``,
    ``bucket_<name>`` (its percentile 0-19 over the dump) and ``quality_bucket``, the maximum bucket over
    the models (Nemotron-CC's ensemble). Each model's name, kind, path and files' sha256 and the percentile
    thresholds are in the table version's lineage. With no model configured nothing is read or written."""
    dump = context.partition_key
    stage_config = to_dataclass(ModelScoresConfig, config)
    # to_dataclass turns a list of sections into a tuple of sections: each becomes a UserModel here
    stage_config = replace(stage_config, models=tuple(to_dataclass(UserModel, m) for m in stage_config.models))
    models = resolve(stage_config)  # a wrong path or kind fails here, in one line, before any work
    if not models:
        context.log.info("model_scores: no user model configured (models, models_file, CORPUSLAKE_USER_MODELS)")
        return dg.MaterializeResult(metadata={"user_models": 0, "written": "nothing: no user model configured"})
    store = lake.lake()
    report = score_dump(store, dump, context.run.run_id, stage_config, compute.resolved_workers(), models=models)
    assert report is not None  # models were configured
    dataset = store.dataset("model_scores", report.version)
    shown = [name for name in dataset.schema.names if name != "dump"]
    preview = head(dataset, {"dump": dump}, shown, 1_000)
    preview = preview.sort_by([("quality_bucket", "descending")]).slice(0, 10)
    metadata = report_metadata(report, lake.root, preview) | {
        "user_models": len(models),
        "models": dg.MetadataValue.md(_models_markdown(report.extra)),
    }
    return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(report.data_version))


def _models_markdown(extra: dict[str, Any]) -> str:
    rates = extra["docs_per_second_per_worker"]
    lines = ["| model | kind | sha256 | docs/s per worker | thresholds 25/50/75% |", "| --- | --- | --- | ---: | --- |"]
    for model in extra["models"]:
        cuts = extra["thresholds"][model["name"]]
        quartiles = ", ".join(f"{cuts[i]:.4g}" for i in (4, 9, 14))
        rate = f"{rates[model['name']]:,.0f}" if model["name"] in rates else "-"
        lines.append(f"| {model['name']} | {model['kind']} | {model['sha256'][:16]} | {rate} | {quartiles} |")
    return "\n".join(lines)
