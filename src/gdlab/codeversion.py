"""A job's code version: a hash of the gdlab modules its code imports.

Snakemake tracks a rule's script, not the library the script imports; a job passes
:func:`code_version` of its modules as a param, so an edit of the library reruns exactly
the jobs whose code it changed. The hash covers each module's syntax tree (a comment or
blank line changes nothing) and follows ``from gdlab... import`` statements; a digest
cache keeps each Snakemake start from parsing unchanged files again.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from gdlab.io import write_text

PACKAGE_DIR = Path(__file__).resolve().parent


#: entries of the digest cache (:func:`_digest_cache_file`) kept, the newest
_DIGEST_CACHE_SIZE = 1024


def _digest_cache_file() -> Path:
    """What parsing gdlab's sources gave (each file's gdlab imports, each code version),
    by the sources' sha256 (and the Python version), in the package's own bytecode cache
    folder: every Snakemake start asks for code versions, and parsing and dumping ~20 files
    costs ~0.5 s of it, the same each time until a file changes."""
    return PACKAGE_DIR / "__pycache__" / "gdlab-source-digests.json"


@functools.cache
def _digests() -> dict[str, Any]:
    """The cached digests (empty when the file is missing, unreadable or damaged)."""
    try:
        found = json.loads(_digest_cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _save_digests() -> None:
    """Write the cache back (newest entries kept); a read-only install just goes without."""
    entries = list(_digests().items())[-_DIGEST_CACHE_SIZE:]
    try:
        _digest_cache_file().parent.mkdir(exist_ok=True)
        write_text(_digest_cache_file(), json.dumps(dict(entries)))
    except OSError:
        pass


def _cache_key(kind: str, text: str) -> str:
    """A digest-cache key: per Python version too, as ``ast.dump`` may spell a tree
    differently on another one."""
    return kind + ":" + hashlib.sha256(f"{sys.version_info[:2]}\0{text}".encode()).hexdigest()


@functools.lru_cache(maxsize=256)
def _parse(source: str) -> tuple[tuple[tuple[str | None, tuple[str, ...]], ...], str]:
    """The gdlab imports and the syntax-tree dump of one module's source, parsed once.

    Several code versions share most files (models, losses, io...); keyed by the source
    text, each file is parsed once per process, and an edited file is parsed again.
    Imports are ``(module, names)`` of ``from module import names`` and ``(None, names)``
    of ``import names``.
    """
    tree = ast.parse(source)
    imports = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gdlab"):
            imports.append((node.module, tuple(a.name for a in node.names)))
        elif isinstance(node, ast.Import):
            imports.append((None, tuple(a.name for a in node.names)))
    return tuple(imports), ast.dump(tree)


def _imports(source: str) -> tuple[tuple[str | None, tuple[str, ...]], ...]:
    """The gdlab imports of one module's source (:func:`_parse`), from the digest cache
    when it holds them."""
    key = _cache_key("imports", source)
    try:
        return tuple((module, tuple(names)) for module, names in _digests()[key])
    except (KeyError, TypeError, ValueError):  # not cached, or an entry damaged by hand
        pass
    imports = _parse(source)[0]
    _digests()[key] = imports  # saved with the code version that asked (:func:`code_version`)
    return imports


def module_files(*modules: str) -> list[Path]:
    """The source files of the given gdlab modules and every gdlab module they import."""
    seen: dict[str, Path] = {}
    todo = list(modules)
    while todo:
        mod = todo.pop()
        if mod in seen:
            continue
        path = _module_file(mod)
        seen[mod] = path
        for module, names in _imports(path.read_text(encoding="utf-8")):
            if module is not None:
                # `from gdlab.pkg import sub` imports the module gdlab.pkg.sub
                todo += [f"{module}.{name}" for name in names
                         if _module_file(f"{module}.{name}").exists()]
                todo.append(module)
            else:
                todo += [name for name in names if name.startswith("gdlab.")]
    return sorted(set(seen.values()))


def _module_file(module: str) -> Path:
    """The source file of a dotted gdlab module: ``pkg/mod.py``, or a package's ``__init__.py``.

    Importing ``gdlab.pkg.mod`` also runs ``pkg/__init__.py``; it is not added: a
    package's ``__init__`` only re-exports, and pipeline modules import the submodule.
    """
    path = PACKAGE_DIR.joinpath(*module.split(".")[1:])
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


@functools.cache  # one Snakemake invocation asks once per job
def code_version(*modules: str) -> str:
    """Hash of the source of ``modules`` and what they import from gdlab (why: the
    module's docstring). The digest cache holds each version by its files' names and
    sources, so unchanged files are not parsed again."""
    files = [(path.name, path.read_text(encoding="utf-8")) for path in module_files(*modules)]
    key = _cache_key("version", json.dumps([(name, hashlib.sha256(text.encode()).hexdigest())
                                             for name, text in files]))
    cached = _digests().get(key)
    if isinstance(cached, str):
        return cached
    h = hashlib.sha256()
    for name, text in files:
        # The syntax tree, not the bytes: editing a comment or blank line reruns nothing.
        h.update(name.encode() + b"\0" + _parse(text)[1].encode() + b"\0")
    _digests()[key] = version = h.hexdigest()[:16]
    _save_digests()
    return version
