"""Crash-safe file output: every file is written under a temporary name, then renamed.

A reader (or a rerun after ``kill -9``) therefore sees either the old file or the whole
new one, never a half-written one. ``os.replace`` is atomic within one filesystem, which
is why the temporary file lives in the destination's own directory.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import tempfile
import zipfile
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np

_UMASK = os.umask(0)
os.umask(_UMASK)


class DamagedFile(ValueError):
    """A file gdlab wrote that no longer holds what it wrote (cut short, edited by hand,
    a disk's fault). gdlab writes every file whole or not at all, so the message names the
    file and the way to make it again: delete it and run ``snakemake`` again, which remakes
    what is missing."""

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = Path(path)
        super().__init__(f"{path} is damaged: {problem}. Delete it and run snakemake again "
                         "to make it anew (nothing else is lost: the results are rebuilt "
                         "from what is whole)")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def partial_writes(directory: str | os.PathLike) -> list[Path]:
    """The temporary files :func:`atomic_path` left under ``directory`` when its process
    was killed before the rename (``.<name>.<random>.tmp``): never read, safe to delete
    once no process of that run lives."""
    return sorted(p for p in Path(directory).rglob(".*.tmp") if p.is_file())


def write_bytes(path: str | os.PathLike, payload: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(payload)


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def finite_or_none(value: Any) -> Any:
    """JSON has no NaN or infinity: a non-finite float becomes ``None`` (JSON null)."""
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_none(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


_canonical_dumps = functools.partial(json.dumps, sort_keys=True, separators=(",", ":"),
                                     allow_nan=False)


def canonical_json(obj: Any) -> str:
    """One spelling per value: sorted keys, no NaN, no whitespace variation."""
    try:  # plain values (specs, configs: most calls) as they are, without a copy
        return _canonical_dumps(obj)
    except (ValueError, TypeError):  # a non-finite float or a NumPy scalar: made JSON first
        return _canonical_dumps(finite_or_none(obj))


def write_json(path: str | os.PathLike, obj: Any) -> None:
    text = json.dumps(finite_or_none(obj), sort_keys=True, indent=2, allow_nan=False)
    write_text(path, text + "\n")


#: the field of a record that carries the repair token of the job that made it
TOKEN_KEY = "repair"


def stamp(record: dict, repair: str) -> dict:
    """``record`` with the repair token of the job that makes it (:mod:`gdlab.repairs`;
    none for the empty token, so a record that never needed a repair has no such field)."""
    return {**record, TOKEN_KEY: repair} if repair else record


def read_json(path: str | os.PathLike) -> Any:
    """The JSON file at ``path``; :class:`DamagedFile` naming it when it does not parse."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise DamagedFile(path, f"not valid JSON ({err})") from None


_ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """The bytes of an uncompressed ``.npz`` that depend on nothing but the arrays.

    ``np.savez`` stamps each zip member with the current time; this writes the same
    format with a fixed timestamp so identical data give identical files. Object arrays
    are refused, so loading never needs pickle.
    """
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, value in arrays.items():
            arr = np.asarray(value, order="C")
            if arr.dtype.hasobject:
                raise TypeError(f"array {name!r} has dtype object; refusing to pickle it")
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE_TIME)
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, arr, allow_pickle=False)
    return buffer.getvalue()


def save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    write_bytes(path, npz_bytes(arrays))


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}
