"""The engine's errors: one base class, one subclass per kind, one exit code per kind.

The command line catches :class:`CorpuslakeError`, prints :func:`one_line` (the message, then the cause
it was raised from) and exits with the kind's ``exit_code``. The codes of ``corpuslake run`` and the other
commands (README, "Exit codes"):

====  ==========================================================================
0     everything asked for was done (``run``: every dump landed and was published)
1     a run or a command failed (:class:`CorpuslakeError`, the default kind)
2     bad usage or input: said in one line (:class:`InputError` and its kinds, among them a service
      command in a reader-only install, :class:`ServiceNotInstalledError`)
3     ``run`` published, but some dumps are quarantined (:data:`QUARANTINED`)
130   interrupted (:class:`InterruptedRunError`, Ctrl-C)
====  ==========================================================================
"""

from typing import ClassVar, Final

OK: Final = 0
FAILED: Final = 1
BAD_INPUT: Final = 2
QUARANTINED: Final = 3
"""``run`` published from the dumps that passed; the others are quarantined with their reasons."""
INTERRUPTED: Final = 130
"""128 + SIGINT, as shells report a process stopped by Ctrl-C."""


class CorpuslakeError(Exception):
    """Any error the engine raises on purpose: something failed (exit code 1)."""

    exit_code: ClassVar[int] = FAILED


class InputError(CorpuslakeError):
    """Bad usage or input: a landing zone, lake, dump, pin or definition that is not what was asked."""

    exit_code: ClassVar[int] = BAD_INPUT


class LandingZoneError(InputError, FileNotFoundError):
    """A landing zone that does not exist, holds no valid dump folder, or a dump folder with no files."""


class LakeNotFoundError(InputError, FileNotFoundError):
    """A lake root that does not exist (an existing folder without tables is an empty lake, not an error)."""


class ServiceNotInstalledError(InputError):
    """A command that drives the service (``run``, ``publish``) in an install without the ``service`` extra:
    the plain package is the reader a training job uses, and has no Dagster."""

    def __init__(self, command: str) -> None:
        super().__init__(f"`corpuslake {command}` needs the service, which this install lacks: {SERVICE_INSTALL}")


SERVICE_INSTALL: Final = "pip install 'corpuslake[service]'"
"""What adds the service (Dagster, the stages and their libraries) to a reader-only install."""


class InterruptedRunError(CorpuslakeError):
    """A run stopped by an interrupt (Ctrl-C): nothing half-written is left; finished dumps stay."""

    exit_code: ClassVar[int] = INTERRUPTED


def one_line(error: BaseException) -> str:
    """The error's message, then each cause it was raised from (``raise ... from``), on one line."""
    parts = [str(error) or type(error).__name__]
    seen = {id(error)}
    cause = error.__cause__
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        text = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
        label = type(cause).__name__
        parts.append(f"{label}: {text}" if text else label)
        cause = cause.__cause__
    return " (caused by ".join(parts) + ")" * (len(parts) - 1)
