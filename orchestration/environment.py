"""The environment, read in one place when the definitions are built (never at import)."""

import os

from corpuslake.settings import Settings, load_settings


def deployment_name() -> str:
    """``local`` (default), ``ci`` or ``prod``: decides nothing yet but is logged with every run."""
    if os.environ.get("CI"):
        return "ci"
    return os.environ.get("CORPUSLAKE_ENV", "local")


def current_settings() -> Settings:
    return load_settings()
