"""Parallel work through Kaldi's job runners: a ``concurrent.futures.Executor`` over ``$cmd``.

The verbs parallelize with executors (their own ``ProcessPoolExecutor``s, and lhotse's
``compute_and_store_features(executor=...)``). :class:`RunnerExecutor` runs the same tasks as one
job array of a Kaldi runner instead (``utils/run.pl`` here, ``utils/slurm.pl`` on a cluster,
chosen in ``cmd.sh``): each task is pickled to ``<work>/q/<name>.<J>.pkl``, the runner runs
``python -m asr2emo.utils.jobs <pkl>`` for J = 1..N with its own log ``<work>/log/<name>.J.log``,
and the results come back through ``<name>.<J>.out.pkl``. The tasks and their order are those
of the in-process executor, so the outputs are the same (a step run with ``--cmd`` and without
writes the same manifests). A failed job is one error naming its log.

    ex = runner_executor(cmd, work_dir, "mfcc_train")  # None without --cmd: a local pool
    cuts.compute_and_store_features(..., num_jobs=nj, executor=ex)
"""

from __future__ import annotations

import pickle
import shlex
import subprocess
import sys
import traceback
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any, Callable, List, Optional, Tuple, Union

from asr2emo.utils.errors import UserError

Pathlike = Union[str, Path]


class _LazyFuture(Future):
    """A future whose ``result()`` first runs the executor's pending job array."""

    def __init__(self, executor: "RunnerExecutor") -> None:
        super().__init__()
        self._executor = executor

    def result(self, timeout: Optional[float] = None) -> Any:
        self._executor.flush()
        return super().result(timeout)

    def exception(self, timeout: Optional[float] = None) -> Optional[BaseException]:
        self._executor.flush()
        return super().exception(timeout)


class RunnerExecutor(Executor):
    """Tasks submitted before a result is asked for run as one array of ``cmd``'s jobs."""

    def __init__(self, cmd: str, work_dir: Pathlike, name: str) -> None:
        self.cmd = shlex.split(cmd)
        if not self.cmd:
            raise UserError("--cmd is empty; give a job runner such as utils/run.pl")
        self.work_dir = Path(work_dir)
        self.name = name
        self._pending: List[Tuple[_LazyFuture, Callable, tuple, dict]] = []
        self._batches = 0

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> Future:
        future = _LazyFuture(self)
        self._pending.append((future, fn, args, kwargs))
        return future

    def map(self, fn: Callable, *iterables: Any, timeout=None, chunksize: int = 1):
        futures = [self.submit(fn, *args) for args in zip(*iterables)]
        return (f.result() for f in futures)

    def flush(self) -> None:
        """Run every pending task as one job array and resolve their futures."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        self._batches += 1
        name = self.name if self._batches == 1 else f"{self.name}.{self._batches}"
        qdir, logdir = self.work_dir / "q", self.work_dir / "log"
        qdir.mkdir(parents=True, exist_ok=True)
        logdir.mkdir(parents=True, exist_ok=True)
        for j, (_, fn, args, kwargs) in enumerate(pending, start=1):
            (qdir / f"{name}.{j}.out.pkl").unlink(missing_ok=True)
            with open(qdir / f"{name}.{j}.pkl", "wb") as f:
                pickle.dump((fn, args, kwargs), f)
        n = len(pending)
        runner = self.cmd + [f"JOB=1:{n}", str(logdir / f"{name}.JOB.log")]
        task = [sys.executable, "-m", "asr2emo.utils.jobs", str(qdir / f"{name}.JOB.pkl")]
        r = subprocess.run(runner + task, capture_output=True, text=True)
        failed = []
        for j, (future, *_) in enumerate(pending, start=1):
            out = qdir / f"{name}.{j}.out.pkl"
            if not out.is_file():
                failed.append(j)
                continue
            with open(out, "rb") as f:
                ok, value = pickle.load(f)
            if ok:
                future.set_result(value)
            else:
                failed.append(j)
        if not failed and r.returncode == 0:  # the logs stay; the task files can be large
            for j in range(1, n + 1):
                (qdir / f"{name}.{j}.pkl").unlink(missing_ok=True)
                (qdir / f"{name}.{j}.out.pkl").unlink(missing_ok=True)
        if failed or r.returncode != 0:
            err = UserError(
                f"{len(failed) or 'some'} of {n} job(s) of {' '.join(self.cmd)} failed (job "
                f"{', '.join(map(str, failed[:5]))}); see {logdir / f'{name}.JOB.log'}"
                + (f" ({r.stderr.strip().splitlines()[-1]})" if r.stderr.strip() else "")
            )
            for future, *_ in pending:
                if not future.done():
                    future.set_exception(err)
            raise err

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if not cancel_futures:
            self.flush()


def runner_executor(cmd: Optional[str], work_dir: Pathlike, name: str) -> Optional[Executor]:
    """``RunnerExecutor(cmd, ...)`` when a job runner is given, else None (the caller keeps its
    local process pool)."""
    return RunnerExecutor(cmd, work_dir, name) if cmd else None


def run_task(path: Pathlike) -> int:
    """Run the pickled task at ``path`` and pickle ``(ok, result or traceback)`` beside it."""
    path = Path(path)
    out = path.with_name(path.name[: -len(".pkl")] + ".out.pkl")
    try:
        with open(path, "rb") as f:
            fn, args, kwargs = pickle.load(f)
        result = (True, fn(*args, **kwargs))
        code = 0
    except Exception:  # the job's log gets the traceback; the caller one line
        traceback.print_exc()
        result, code = (False, traceback.format_exc()), 1
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "wb") as f:
        pickle.dump(result, f)
    tmp.replace(out)
    return code


if __name__ == "__main__":
    import torch

    torch.set_num_threads(1)  # one job per core, as the local pools run them
    sys.exit(run_task(sys.argv[1]))
