"""Done markers that know their inputs: a step is finished only for the inputs it was run on.

Kaldi and icefall mark a finished step with an empty file; a rerun after the conf, a manifest or
a model changed then silently reuses the old output. Here a step's marker (``<dir>/.done``, or a
named marker beside a file output) is a JSON record of what the output depends on:

- ``step``: the verb that wrote it, and ``format``: the version of that verb's output format;
- ``config``: every setting that shapes the output (the conf values used);
- ``inputs``: a fingerprint per input (:func:`fingerprint`): a file by path, size and mtime; a
  directory that another step finished by its marker's record (so when that step reruns, every
  step that consumed it follows); any other directory by the sizes and mtimes of its files.

:func:`stale_reason` compares a marker with the record a rerun would write and says, in one line,
why the step must run (or None: nothing to do). :func:`write_marker` is called last, after every
output is in place, so a killed step never looks finished.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Dict, Iterable, Mapping, Optional, Union

from asr2emo.utils.io import atomic_path

Pathlike = Union[str, Path]
MARKER = ".done"
# Settings that never change a step's output: where it logs, how many jobs, which device.
NOT_CONFIG = ("config", "log_file", "nj", "cmd", "num_threads", "device", "verbose")


def fingerprint(path: Pathlike, marker: str = MARKER) -> Dict[str, Any]:
    """What identifies an input: see the module docstring. A missing path is ``{"missing": p}``."""
    p = Path(path).resolve()
    if p.is_file():
        st = p.stat()
        return {"path": str(p), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    if p.is_dir():
        done = p / marker
        if done.is_file():
            return {"path": str(p), "done": hashlib.sha1(done.read_bytes()).hexdigest()}
        h = hashlib.sha1()
        n = 0
        for root, dirs, files in os.walk(p, followlinks=True):
            dirs.sort()
            for name in sorted(files):
                q = Path(root, name)
                try:
                    st = q.stat()
                except OSError:  # a dangling link: its name still counts
                    st = None
                rel = q.relative_to(p).as_posix()
                h.update(
                    f"{rel}\0{st.st_size if st else -1}\0{st.st_mtime_ns if st else -1}\n".encode()
                )
                n += 1
        return {"path": str(p), "files": n, "listing": h.hexdigest()}
    return {"missing": str(p)}


def config_of(args: Any, exclude: Iterable[str] = ()) -> Dict[str, Any]:
    """The settings of an argparse namespace (or dict) that shape a step's output, as JSON
    values; paths given as positional arguments belong in the inputs and are excluded here."""
    items = vars(args) if not isinstance(args, Mapping) else dict(args)
    skip = set(NOT_CONFIG) | set(exclude)
    return {k: _jsonable(v) for k, v in sorted(items.items()) if k not in skip}


def _jsonable(v: Any) -> Any:
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return repr(v)


def make_record(
    step: str,
    config: Mapping[str, Any],
    inputs: Mapping[str, Pathlike],
    format: int = 1,
    marker: str = MARKER,
) -> Dict[str, Any]:
    """The record a run of ``step`` with ``config`` on ``inputs`` ({name: path}) would write."""
    return {
        "step": step,
        "format": format,
        "config": {k: _jsonable(v) for k, v in sorted(config.items())},
        "inputs": {k: fingerprint(v, marker) for k, v in sorted(inputs.items())},
    }


def read_marker(directory: Pathlike, name: str = MARKER) -> Optional[Dict[str, Any]]:
    """The record in ``directory/name``; ``{}`` for an old plain-text marker; None if absent."""
    path = Path(directory) / name
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def stale_reason(
    directory: Pathlike, record: Mapping[str, Any], name: str = MARKER
) -> Optional[str]:
    """None when ``directory`` holds a marker with exactly ``record``, else why the step must run
    (one line: what changed, old -> new)."""
    old = read_marker(directory, name)
    if old is None:
        return "not finished yet"
    if "step" not in old:
        return "its marker predates input tracking (no record of the inputs)"
    if old.get("step") != record["step"] or old.get("format") != record["format"]:
        was = f"{old.get('step')} format {old.get('format')}"
        return f"written by {was}, now {record['step']} format {record['format']}"
    changes = []
    for key in sorted(set(old.get("config", {})) | set(record["config"])):
        a, b = old.get("config", {}).get(key, "<unset>"), record["config"].get(key, "<unset>")
        if a != b:
            changes.append(f"--{key.replace('_', '-')} {_short(a)} -> {_short(b)}")
    for key in sorted(set(old.get("inputs", {})) | set(record["inputs"])):
        a, b = old.get("inputs", {}).get(key), record["inputs"].get(key)
        if a != b:
            changes.append(f"input {key} {_what_changed(a, b)}")
    if not changes:
        return None
    more = f" (+{len(changes) - 3} more)" if len(changes) > 3 else ""
    return "; ".join(changes[:3]) + more


def _short(v: Any, n: int = 40) -> str:
    s = json.dumps(v)
    return s if len(s) <= n else s[: n - 3] + "..."


def _what_changed(a: Optional[Dict], b: Optional[Dict]) -> str:
    if a is None:
        return "is new"
    if b is None:
        return "is gone"
    if "missing" in b:
        return f"{b['missing']} is missing"
    if a.get("path") != b.get("path"):
        return f"{a.get('path', a.get('missing'))} -> {b.get('path')}"
    if "done" in b:
        return f"{b['path']} was rerun"
    if "listing" in b:
        return f"{b['path']} changed ({a.get('files')} -> {b.get('files')} files, or sizes/times)"
    return f"{b['path']} changed (size {a.get('size')} -> {b.get('size')}, or its time)"


def write_marker(directory: Pathlike, record: Mapping[str, Any], name: str = MARKER) -> None:
    """Write ``record`` as the marker; call it after every output of the step is in place."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    out = dict(record, finished=time.strftime("%Y-%m-%d %H:%M:%S"))
    with atomic_path(directory / name) as tmp:
        tmp.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")


def is_finished(directory: Pathlike, record: Mapping[str, Any], name: str = MARKER) -> bool:
    """True when the marker matches ``record``, ignoring when it was written."""
    return stale_reason(directory, record, name) is None


def needs_run(
    directory: Pathlike, record: Mapping[str, Any], what: str, name: str = MARKER
) -> bool:
    """True when the step must (re)run; logs one line saying why, or that nothing is to do."""
    reason = stale_reason(directory, record, name)
    if reason is None:
        logging.info(f"{what}: finished for these settings and inputs; nothing to do")
        return False
    if reason != "not finished yet":
        logging.info(f"{what}: recomputing: {reason}")
    return True
