"""The tracking URI: which store, written down only as a hash, shown only redacted, and a
server that is down failing a job fast.

The URI may carry credentials (``http://user:pass@host``): only :func:`uri_hash` of it
goes into params, outputs and tags, and messages show :func:`redact_uri` of it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

from gdlab.names import DEFAULT_TRACKING_URI


def resolve_tracking_uri(config: dict | None = None) -> str:
    """``MLFLOW_TRACKING_URI``, else the config's ``mlflow.tracking_uri``, else SQLite."""
    return (os.environ.get("MLFLOW_TRACKING_URI")
            or ((config or {}).get("mlflow") or {}).get("tracking_uri")
            or DEFAULT_TRACKING_URI)


def uri_hash(uri: str) -> str:
    """What may be written down about a tracking URI: a hash of it."""
    return hashlib.sha256(uri.encode("utf-8")).hexdigest()[:16]


def redact_uri(uri: str) -> str:
    """The URI without user, password, query or fragment: safe for a log."""
    parts = urlsplit(uri)
    if not parts.netloc:  # sqlite:///mlflow.db, file paths: nothing secret but a query
        return uri.partition("?")[0]
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def is_server(uri: str) -> bool:
    """Whether the URI names a tracking server (http, https), not a store to open."""
    return uri.partition(":")[0].lower() in ("http", "https")


def job_uri(spec: dict, config: dict) -> str:
    """The real tracking URI of a setup or track job (never written down): MLflow set to
    fail fast on a server that is down, and the URI checked against the planned hash."""
    fail_fast_http()
    uri = resolve_tracking_uri(config)
    if uri_hash(uri) != spec["uri_hash"]:
        raise RuntimeError(
            f"this job's tracking URI ({redact_uri(uri)}) is not the one the workflow was "
            "planned with; set MLFLOW_TRACKING_URI the same way for snakemake and its jobs")
    return uri


#: MLflow's HTTP settings for gdlab's jobs. MLflow's own (7 retries, back-off factor 2, 120 s
#: timeout) take 252 s to give up on a server that is down; these give up within 23.5 s
#: (:func:`http_budget`), so that with a job's start-up (3-6 s) it fails within 30 s, and
#: still ride out a server restart of a few seconds. The environment wins: export any of
#: them to override.
HTTP_FAIL_FAST = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0.5",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "7",
    # a Retry-After header would make the sleep unbounded
    "MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER": "false",
}


def fail_fast_http(environ: dict | None = None) -> float:
    """Set :data:`HTTP_FAIL_FAST` where unset (before any request); return the budget."""
    environ = os.environ if environ is None else environ
    for key, value in HTTP_FAIL_FAST.items():
        environ.setdefault(key, value)
    return http_budget(environ)


def http_budget(environ: dict) -> float:
    """Worst-case seconds MLflow spends on a request that never gets through: every
    attempt times out, with urllib3's back-off between attempts (none before the first
    retry, then factor * 2**(n-1) + jitter, at most 120 s)."""
    retries = int(environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"])
    factor = float(environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"])
    jitter = float(environ["MLFLOW_HTTP_REQUEST_BACKOFF_JITTER"])
    timeout = float(environ["MLFLOW_HTTP_REQUEST_TIMEOUT"])
    sleeps = sum(min(factor * 2 ** (n - 1) + jitter, 120) for n in range(2, retries + 1))
    return (retries + 1) * timeout + sleeps


def unreachable(err: BaseException) -> bool:
    """Whether ``err`` (or what it was raised from) is a failed connection or a timeout."""
    import requests

    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, requests.ConnectionError | requests.Timeout):
            return True
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return False


def _without_secrets(uri: str, text: str) -> str:
    password = urlsplit(uri).password
    text = text.replace(uri, redact_uri(uri))
    return text.replace(password, "***") if password else text


class ServerUnreachable(RuntimeError):
    """The tracking server did not answer; the message names it without credentials."""

    def __init__(self, uri: str, detail: str = ""):
        super().__init__(
            f"cannot reach the MLflow tracking server {redact_uri(uri)}: is it up? The "
            "results are kept; run snakemake again once the server answers to sync them. "
            f"({_without_secrets(uri, detail)})")


@contextlib.contextmanager
def redacted_errors(uri: str) -> Iterator[None]:
    """Re-raise any error with the URI (and its credentials) replaced by its redacted form."""
    try:
        yield
    except Exception as err:
        text = f"{type(err).__name__}: {err}"
        if unreachable(err):
            raise ServerUnreachable(uri, text) from None
        password = urlsplit(uri).password
        if uri in text or (password and password in text):
            raise RuntimeError(_without_secrets(uri, text)) from None
        raise
