"""Ctrl-C during ``corpuslake run``: the first stops the whole run cleanly, a second one forces.

While a Dagster run executes in-process, Dagster owns SIGINT: it interrupts the running step, whose stage
stops its workers and removes the files it had not committed, and the run ends as failed. That alone
would let the next dump start. :class:`Interrupts` also sees every SIGINT, whoever handles it (through
the wakeup file descriptor the interpreter writes each signal number to), so the caller starts nothing
more after the first; after the second it stops the process at once, leaving whatever was in flight.

Dagster's console logger would print the interrupted step's failure, and the run's, each with a stack
trace of where the signal landed: :data:`console_without_interrupts` is that logger without those two
records (the run's event log, and so the UI, keeps them), so the console shows the project's own lines.
"""

import logging
import os
import signal
import socket
import sys
import threading
from types import FrameType, TracebackType
from typing import Any, Self

import dagster as dg

FORCED_EXIT = 130
# What Dagster raises in the step (or the run) that a SIGINT interrupted; nothing else is hidden.
_INTERRUPT_ERRORS = frozenset({"DagsterExecutionInterruptedError", "KeyboardInterrupt"})


class Interrupts:
    """Counts SIGINTs from ``__enter__`` to ``__exit__`` (main thread only; elsewhere it counts none)."""

    def __init__(self) -> None:
        self.requested = False
        self._count = 0
        self._lock = threading.Lock()
        self._sockets: tuple[socket.socket, socket.socket] | None = None
        self._previous: tuple[Any, int] | None = None

    def __enter__(self) -> Self:
        if threading.current_thread() is not threading.main_thread():
            return self
        reader, writer = socket.socketpair()
        writer.setblocking(False)
        # A Python-level handler must be set for the interpreter to write to the wakeup descriptor; this
        # one only records, so SIGINT between two runs never raises in the middle of an instance write.
        previous_handler = signal.signal(signal.SIGINT, self._on_signal)
        previous_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        self._sockets, self._previous = (reader, writer), (previous_handler, previous_fd)
        threading.Thread(target=self._watch, args=(reader,), name="corpuslake-interrupts", daemon=True).start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._previous is None or self._sockets is None:
            return
        handler, fd = self._previous
        signal.set_wakeup_fd(fd)
        signal.signal(signal.SIGINT, handler)
        for end in self._sockets:
            end.close()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        """Counted by the watch thread from the wakeup descriptor; nothing to do here."""

    def _watch(self, reader: socket.socket) -> None:
        while True:
            try:
                data = reader.recv(64)
            except OSError:
                return
            if not data:
                return
            for _ in range(data.count(signal.SIGINT)):
                self._seen()

    def _seen(self) -> None:
        with self._lock:
            self._count += 1
            self.requested = True
            count = self._count
        if count == 1:
            _say("interrupt: stopping the current run, starting no more (Ctrl-C again to stop at once)")
        else:
            _say("interrupt: stopping at once; the current run's uncommitted files stay until `corpuslake gc`")
            os._exit(FORCED_EXIT)  # the pool's workers die with this process (corpuslake.lifetime)


def _say(line: str) -> None:
    """Write straight to the descriptor: safe from any thread, even while the main one holds stderr's lock."""
    os.write(sys.stderr.fileno(), f"\ncorpuslake: {line}\n".encode())


def _not_an_interrupt(record: logging.LogRecord) -> bool:
    """False for a step or run failure whose error is the interrupt itself (not one it caused later)."""
    meta = getattr(record, "dagster_meta", None)
    event = meta.get("dagster_event") if isinstance(meta, dict) else None
    error = getattr(getattr(event, "event_specific_data", None), "error", None)
    return getattr(error, "cls_name", None) not in _INTERRUPT_ERRORS


def _console(init_context: dg.InitLoggerContext) -> logging.Logger:
    console = dg.colored_console_logger.logger_fn(init_context)
    console.addFilter(_not_an_interrupt)
    return console


console_without_interrupts = dg.LoggerDefinition(
    _console,
    config_schema=dg.colored_console_logger.config_schema,
    description="Dagster's colored console logger, without the stack traces of a step stopped by Ctrl-C.",
)
