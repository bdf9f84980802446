"""The one Definitions object of the corpuslake code location."""

# ruff: noqa: E402
# (the console filters below are installed before the modules that define the checks are imported)

import logging
import warnings
from typing import Any

import dagster as dg

# Dagster 1.13 says "Specifying a partitions_def on an AssetCheckSpec is currently in preview" when each
# module defining a check per dump is imported: on every run, in every process. The checks are partitioned
# on purpose; this message of this category alone is silenced, every other warning still shows.
warnings.filterwarnings(
    "ignore",
    message=r"Specifying a partitions_def on an AssetCheckSpec is currently in preview",
    category=dg.PreviewWarning,
)


def _not_a_temporary_docs_site(record: logging.LogRecord) -> bool:
    """Great Expectations logs at INFO (it sets its own level) each temporary folder it makes for a docs site
    the checks never build: one line per validation."""
    return not record.getMessage().startswith("Created temporary directory")


logging.getLogger("great_expectations.data_context.types.base").addFilter(_not_a_temporary_docs_site)

from assets.content_signals import content_signals
from assets.crawl_files import crawl_files
from assets.deduplicated import deduplicated
from assets.documents import documents
from assets.domain_model import domain_model
from assets.domains import domains
from assets.exports import exports
from assets.filtered import filtered
from assets.mixture_search import mixture_search
from assets.model_scores import model_scores
from assets.perplexity import perplexity
from assets.quality_models import quality_model, quality_training_set
from assets.scored import scored
from assets.snapshots import mixtures, snapshots
from corpuslake.locations import is_lakefs
from corpuslake.memory import release_memory
from corpuslake.settings import Settings
from orchestration.environment import current_settings
from orchestration.lakefs import run_tags
from orchestration.requests import LAKE_TAG
from orchestration.resources import (
    ComputeResource,
    DatasetsResource,
    DriftResource,
    LakeResource,
    LandingZoneResource,
)
from orchestration.sensors import build_lakefs_sensors, build_sensor
from quality_checks.deduplicated import deduplicated_accounts_for_every_document
from quality_checks.documents import documents_account_for_every_record, documents_ids_unique
from quality_checks.drift import DRIFT_CHECKS
from quality_checks.filtered import filtered_accounts_for_every_document
from quality_checks.suites import SUITE_CHECKS

INGEST_JOB = "ingest_dump"
TRAIN_JOB = "train_quality_model"
PUBLISH_JOB = "publish_datasets"
EXPORT_JOB = "export_datasets"
DOMAIN_MODEL_JOB = "train_domain_model"
SIGNALS_JOB = "compute_signals"
DOMAINS_JOB = "label_domains"
SEARCH_JOB = "search_mixtures"

ASSETS = [crawl_files, documents, filtered, content_signals, deduplicated, scored]
TRAINING_ASSETS = [quality_training_set, quality_model]
PUBLISH_ASSETS = [snapshots, mixtures]
# Signals a definition may select by (where:); computed on demand per dump, outside the ingest job, whose
# cost stays that of the stages every snapshot needs. domains needs a trained domain model first.
SIGNAL_ASSETS = [perplexity, model_scores]
DOMAIN_ASSETS = [domain_model, domains]
CHECKS = [
    documents_account_for_every_record,
    documents_ids_unique,
    filtered_accounts_for_every_document,
    deduplicated_accounts_for_every_document,
    *SUITE_CHECKS,
    *DRIFT_CHECKS,
]


# Each job: its assets and what it does (the launchpad shows the description).
JOBS: dict[str, tuple[list[Any], str]] = {
    INGEST_JOB: (ASSETS, "Every stage of one crawl dump, in order, with its checks."),
    TRAIN_JOB: (
        TRAINING_ASSETS,
        "Build the quality training set and train the quality classifier (scored needs a model).",
    ),
    PUBLISH_JOB: (
        PUBLISH_ASSETS,
        "Publish every snapshot definition, then every mixture recipe, under catalog numbers.",
    ),
    EXPORT_JOB: (
        [exports],
        "Export published pins as token shards (Megatron, datatrove) with sidecars and a validation split.",
    ),
    DOMAIN_MODEL_JOB: ([domain_model], "Train the domain model on a sample of scored (domains needs a model)."),
    SIGNALS_JOB: (SIGNAL_ASSETS, "Perplexity and users' own quality models' scores of one dump's scored documents."),
    DOMAINS_JOB: ([domains], "Label every scored document of a dump with its domain, registered domain and TLD."),
    SEARCH_JOB: ([mixture_search], "Find mixture weights by proxy runs and publish each search's predicted mixture."),
}


@dg.success_hook(name="release_memory_on_success")
def _released_after_success(_context: dg.HookContext) -> None:
    release_memory()


@dg.failure_hook(name="release_memory_on_failure")
def _released_after_failure(_context: dg.HookContext) -> None:
    release_memory()


# Each step of a run releases what it freed, so the run's steps, which share one process, do not stack.
RELEASE_HOOKS = {_released_after_success, _released_after_failure}


def build_definitions(settings: Settings, workers: int = 0) -> dg.Definitions:
    """The code location for a given lake and landing zone (the CLI passes its own)."""
    # On lakeFS, one run at a time per repository (deploy/production); every run says which lake it wrote.
    tags = run_tags(settings.lake) | {LAKE_TAG: settings.lake}
    jobs = [
        dg.define_asset_job(
            name, tags=tags, hooks=RELEASE_HOOKS, selection=dg.AssetSelection.assets(*assets), description=text
        )
        for name, (assets, text) in JOBS.items()
    ]
    publish = next(job for job in jobs if job.name == PUBLISH_JOB)
    # New dumps arrive through the sensor; snapshots and mixtures follow once a day (an unchanged
    # selection mints no new number, so a quiet day publishes nothing new).
    daily = dg.ScheduleDefinition(
        name="publish_datasets_daily",
        job=publish,
        cron_schedule="0 3 * * *",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    # On a lakeFS lake every run writes its own branch; these merge or keep it when the run ends.
    lakefs_sensors = build_lakefs_sensors(settings.lake, jobs) if is_lakefs(settings.lake) else []
    return dg.Definitions(
        assets=[*ASSETS, *TRAINING_ASSETS, *PUBLISH_ASSETS, exports, *SIGNAL_ASSETS, *DOMAIN_ASSETS, mixture_search],
        sensors=[build_sensor(INGEST_JOB), *lakefs_sensors],
        schedules=[daily],
        asset_checks=CHECKS,
        jobs=jobs,
        # Every job's steps run in the run's own process, as `corpuslake run` runs them: the stages' worker pool
        # (or Ray connection) is kept from step to step, and no step re-imports the code location. Parallelism
        # is inside a step (the pool or Ray), and a partition's steps depend on each other anyway.
        executor=dg.in_process_executor,
        resources={
            "lake": LakeResource(root=settings.lake, cache=settings.cache),
            "landing": LandingZoneResource(root=settings.landing),
            "compute": ComputeResource(workers=workers, executor=settings.executor, ray_address=settings.ray_address),
            "datasets": DatasetsResource(folder=settings.datasets),
            "drift_config": DriftResource(),
        },
    )


@dg.definitions
def defs() -> dg.Definitions:
    """Loaded by ``dg dev`` and the webserver: settings come from the environment at load time."""
    return build_definitions(current_settings())
