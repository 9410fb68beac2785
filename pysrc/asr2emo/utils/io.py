"""Atomic outputs and ``.done`` markers, so a killed step never leaves work that looks finished."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, Iterator, Union

Pathlike = Union[str, Path]


@contextlib.contextmanager
def atomic_path(path: Pathlike) -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; rename it onto ``path`` only if the block succeeds.

    The temporary name keeps the suffixes (``x.tmp.jsonl.gz``) so writers that infer the format
    from the extension still work. It is fixed, not per process: a rerun after a SIGKILL (which
    skips the cleanup below) removes the stale temporary before writing. Works for files and
    directories.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    name = path.name
    stem, dot, suffixes = name.partition(".")
    tmp = path.with_name(f"{stem}.tmp{dot}{suffixes}")
    _remove(tmp)
    try:
        yield tmp
        if path.exists() and path.is_dir() and tmp.is_dir():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        _remove(tmp)


def write_json(path: Pathlike, obj: Any) -> None:
    """``obj`` as indented JSON at ``path``, written through :func:`atomic_path`."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2) + "\n")


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p)
    elif p.exists() or p.is_symlink():
        p.unlink()


def is_done(directory: Pathlike, name: str = ".done") -> bool:
    """True when ``directory`` holds the marker written by :func:`mark_done`."""
    return (Path(directory) / name).is_file()


def mark_done(directory: Pathlike, name: str = ".done") -> None:
    """Write the completion marker; call it after every output of the step is in place."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with atomic_path(directory / name) as tmp:
        tmp.write_text("done\n")
