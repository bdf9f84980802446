"""The signal assets (domains, perplexity, users' models) and the mixture search each have their own job:
the ingest job, which the sensor and ``corpuslake run`` start for every dump, stays the stages every
snapshot needs.

Touches: orchestration/definitions.py (jobs and their selections).
"""

import subprocess
import sys
from pathlib import Path

from corpuslake.settings import Settings
from orchestration.definitions import (
    DOMAIN_MODEL_JOB,
    DOMAINS_JOB,
    INGEST_JOB,
    SEARCH_JOB,
    SIGNALS_JOB,
    build_definitions,
)

LANDING = Path(__file__).resolve().parent.parent / "samples" / "crawl"


def _assets(job_name: str, tmp_path: Path) -> set[str]:
    settings = Settings(lake=str(tmp_path / "lake"), landing=str(LANDING), dagster_home="unused", cache=str(tmp_path))
    job = build_definitions(settings, workers=1).resolve_job_def(job_name)
    return {key.to_user_string() for key in job.asset_layer.executable_asset_keys}


def test_each_signal_job_selects_its_assets_and_ingest_none_of_them(tmp_path: Path) -> None:
    assert _assets(SIGNALS_JOB, tmp_path) == {"perplexity", "model_scores"}
    assert _assets(DOMAINS_JOB, tmp_path) == {"domains"}
    assert _assets(DOMAIN_MODEL_JOB, tmp_path) == {"domain_model"}
    assert _assets(SEARCH_JOB, tmp_path) == {"mixture_search"}
    ingest = _assets(INGEST_JOB, tmp_path)
    assert {"documents", "scored"} <= ingest
    assert ingest.isdisjoint({"perplexity", "model_scores", "domains", "domain_model", "mixture_search"})


def test_the_code_location_loads_without_the_signals_heavy_libraries() -> None:
    """Every run's driver and the webserver's code server load the definitions: the libraries only a
    signal or a search needs (torch about 6 s to import, scikit-learn 3 s) load when that asset runs."""
    heavy = ("torch", "sklearn", "transformers", "matplotlib")
    code = f"import sys, orchestration.definitions; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert done.stdout.strip() == ""
