"""Fault injection for the recipe tests: run a command in its own process group, SIGKILL the whole
group when a file appears (or after N seconds), rerun, and compare products of two runs.

A step killed with SIGKILL gets no chance to clean up, exactly like a job killed by a scheduler
or an OOM killer; what it leaves behind must never be taken for finished work by a rerun.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Interrupted:
    """What happened to a run that was meant to be killed part-way."""

    killed: bool  # True: SIGKILL was sent while the command was still running
    returncode: int
    seconds: float  # time from start to the kill (or to the natural end)
    log: str  # stdout + stderr of the run


def recipe_cmd(
    workdir: Path, conf_dir: Path, stage: Optional[int] = None, stop_stage: Optional[int] = None
) -> list:
    """``./run.sh --stage N --stop-stage N`` with data/exp under ``workdir`` (one job); without
    ``stage``, every stage (the caller may add its own options)."""
    cmd = ["./run.sh", "--conf-dir", str(conf_dir), "--data-dir", str(workdir / "data"),
           "--exp-dir", str(workdir / "exp"), "--nj", "1"]  # fmt: skip
    if stage is None:
        return cmd
    return cmd + [
        "--stage",
        str(stage),
        "--stop-stage",
        str(stage if stop_stage is None else stop_stage),
    ]


def appears(*patterns: Path) -> Callable[[], bool]:
    """A condition true once every glob pattern (absolute path with wildcards) matches a file."""

    def check() -> bool:
        return all(any(Path(p.anchor).glob(str(p.relative_to(p.anchor)))) for p in patterns)

    return check


def after_seconds(seconds: float) -> Callable[[], bool]:
    """A condition true ``seconds`` after it is created."""
    t0 = time.monotonic()
    return lambda: time.monotonic() - t0 >= seconds


def run_and_kill(
    cmd: Sequence[str],
    when: Callable[[], bool],
    cwd: Path = REPO,
    timeout: float = 300.0,
    poll: float = 0.005,
) -> Interrupted:
    """Start ``cmd`` in a new session; SIGKILL its whole process group once ``when()`` is true.

    Returns ``killed=False`` when the command ended on its own before the condition held (the
    caller then knows no fault was injected). Output goes to a file, so a full pipe never stalls
    the child.
    """
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"fault_{os.getpid()}_{time.time_ns()}.log"
    t0 = time.monotonic()
    with open(log_path, "w+") as log:
        proc = subprocess.Popen(
            list(cmd), cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        pgid = os.getpgid(proc.pid)
        killed = False
        try:
            while proc.poll() is None:
                if when():
                    if proc.poll() is None:
                        os.killpg(pgid, signal.SIGKILL)
                        killed = True
                    break
                if time.monotonic() - t0 > timeout:
                    raise TimeoutError(f"{cmd} neither finished nor met the kill condition")
                time.sleep(poll)
            seconds = time.monotonic() - t0
            proc.wait()
        finally:
            if proc.poll() is None:
                os.killpg(pgid, signal.SIGKILL)
                proc.wait()
            _reap_group(pgid)
        log.seek(0)
        text = log.read()
    log_path.unlink()
    return Interrupted(killed, proc.returncode, seconds, text)


def _reap_group(pgid: int, wait: float = 5.0) -> None:
    """Make sure no member of the killed group (e.g. a ProcessPool worker) is still running."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < wait:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def run(cmd: Sequence[str], cwd: Path = REPO, timeout: float = 600.0):
    """Run to completion; ``CompletedProcess`` with stdout+stderr in ``.stdout``."""
    return subprocess.run(
        list(cmd),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )


# ---------------------------------------------------------------------------------------------
# Comparing the products of two runs


def jsonl_gz_records(path: Path, workdir: Path) -> List[dict]:
    """All records of a ``.jsonl.gz`` manifest, with ``workdir`` replaced by ``<W>`` in strings.

    Reading to the end also proves the gzip stream is complete (a truncated file raises).
    """
    text = gzip.decompress(path.read_bytes()).decode()
    text = text.replace(str(workdir.resolve()), "<W>").replace(str(workdir), "<W>")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def tree_digest(root: Path, pattern: str = "**/*") -> Dict[str, str]:
    """``{relative path: sha1}`` of every file under ``root`` matching ``pattern``."""
    return {
        str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(root.glob(pattern))
        if p.is_file()
    }


def leftover_temp_files(root: Path) -> List[str]:
    """Files or dirs named like ``atomic_path`` temporaries (``<stem>.tmp...``) under root."""
    import re

    pat = re.compile(r"\.tmp\d*(\.|$)")
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if pat.search(p.name))


def cut_arrays(cuts_path: Path, what: str = "features") -> Dict[str, np.ndarray]:
    """``{cut_id: array}`` of the features (or a custom array field) of every cut in a cut set."""
    from lhotse import load_manifest

    out = {}
    for cut in load_manifest(cuts_path):
        out[cut.id] = cut.load_features() if what == "features" else cut.load_custom(what)
    return out


def assert_arrays_equal(a: Dict[str, np.ndarray], b: Dict[str, np.ndarray]) -> None:
    assert sorted(a) == sorted(b), "different cut ids"
    for k in a:
        assert a[k].shape == b[k].shape, k
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def model_state(path: Path) -> Dict[str, "np.ndarray"]:
    """The ``model`` state dict of a checkpoint as numpy arrays."""
    import torch

    ckpt = torch.load(path, map_location="cpu")
    return {k: v.numpy() for k, v in ckpt["model"].items()}


def log_contains(path: Path, text: str) -> Callable[[], bool]:
    """A condition true once the file ``path`` exists and contains ``text``."""

    def check() -> bool:
        try:
            return text in Path(path).read_text(errors="replace")
        except OSError:
            return False

    return check


# ---------------------------------------------------------------------------------------------
# Work dirs shared by the fault and determinism tests (built once per session)

_CACHE: Dict[str, Path] = {}


def fast_conf(dest: Path) -> Path:
    """conf/mini at micro size, LF-MMI shortened to 1 epoch with a checkpoint every 4 steps.

    The same conf is used by the reference run and the faulted runs, so their products must be
    equal; the checkpoint every 4 steps gives a mid-epoch resume point to kill after.
    """
    from conftest import make_micro_conf

    make_micro_conf(dest)
    lf = dest / "lfmmi.conf"
    lines = [
        ln
        for ln in lf.read_text().splitlines()
        if not ln.startswith(("--num-epochs=", "--save-every-n="))
    ]
    lf.write_text("\n".join(lines + ["--num-epochs=1", "--save-every-n=4"]) + "\n")
    return dest


def reference_pipeline(micro_stage0: Path, factory) -> Path:
    """Stages 1-4 and 6-8 run uninterrupted on ``micro_stage0``'s manifests (stage 5 is unused).

    Layout: ``<ref>/conf`` (fast_conf), ``<ref>/data/manifests`` (copied),
    ``<ref>/data/corpora`` -> micro_stage0's corpora, ``<ref>/data/{lang,mfcc}``, ``<ref>/exp``.
    """
    if "ref" in _CACHE:
        return _CACHE["ref"]
    import shutil

    ref = factory.mktemp("fault_reference")
    fast_conf(ref / "conf")
    (ref / "data").mkdir()
    shutil.copytree(micro_stage0 / "data" / "manifests", ref / "data" / "manifests")
    (ref / "data" / "corpora").symlink_to(micro_stage0 / "data" / "corpora")
    for first, last in ((1, 4), (6, 8)):
        r = run(recipe_cmd(ref, ref / "conf", first, last))
        assert r.returncode == 0, r.stdout[-3000:]
    _CACHE["ref"] = ref
    return ref


def new_work(ref: Path, dest: Path, copy: Sequence[str] = (), link: Sequence[str] = ()) -> Path:
    """A work dir holding ``ref``'s conf, copies of ``copy`` and symlinks to ``link`` (relative
    paths): the inputs of one stage, so only that stage has to run."""
    import shutil

    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ref / "conf", dest / "conf")
    for rel in copy:
        src, dst = ref / rel, dest / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, symlinks=True)
        else:
            shutil.copy2(src, dst)
    for rel in link:
        dst = dest / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.symlink_to((ref / rel).resolve())
    return dest
