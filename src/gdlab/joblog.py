"""Where a workflow job's messages go: its log file (``log:`` of its rule), and Snakemake's
terminal when the log cannot take them (a full disk: an empty log and no reason otherwise).

Standard library only: a script calls :func:`to_log` before importing anything else, so
that an import error lands in the log too.
"""

from __future__ import annotations

import sys
import traceback


def to_log(path: str) -> None:
    """Send this process's stderr to ``path``; an uncaught error is written there, or, if
    that fails, to the terminal with the reason."""
    # line-buffered: a line is in the log as soon as it is printed (a log followed live)
    log = open(path, "w", encoding="utf-8", buffering=1)  # noqa: SIM115 - until the job ends
    sys.stderr = log

    def report(kind, value, tb) -> None:
        text = "".join(traceback.format_exception(kind, value, tb))
        try:
            log.write(text)
            log.flush()
        except OSError as err:
            sys.stderr = sys.__stderr__
            sys.__stderr__.write(f"gdlab: this job's log {path} cannot be written "
                                 f"({err.strerror}); the job failed with:\n{text}")
            sys.__stderr__.flush()

    sys.excepthook = report
