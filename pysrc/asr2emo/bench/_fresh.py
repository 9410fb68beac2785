"""Peak RSS of one call in a process of its own (a helper of the bench entries and tests).

Linux carries a process's peak RSS across exec (``getrusage`` reports the larger of the old
image's peak and the new one's), so a child exec'd from a process that loaded torch would
report torch's peak. The call therefore runs in a fork of a fresh interpreter, whose own peak
starts at a few MB; it prints ``PEAK_KB <n>`` to stderr after the call returns.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

FORKED_CALL = (
    "import importlib, os, resource, sys\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    module, func = sys.argv[1].split(':')\n"
    "    rc = getattr(importlib.import_module(module), func)(sys.argv[2:])\n"
    "    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "    sys.stdout.flush()\n"
    "    print('PEAK_KB', peak, file=sys.stderr, flush=True)\n"
    "    os._exit(rc or 0)\n"
    "sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))\n"
)


def run_forked(
    target: str,
    args: List[str],
    cwd: Optional[Path] = None,
    timeout: float = 600,
    env: Optional[Dict[str, str]] = None,
) -> Tuple[subprocess.CompletedProcess, Optional[int]]:
    """Run ``target`` (``"module:function"``, called with the list ``args``, returning an exit
    status) as above; the finished process and the call's peak RSS in kB (None if it failed)."""
    proc = subprocess.run(
        [sys.executable, "-c", FORKED_CALL, target, *[str(a) for a in args]],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    peak = None
    if "PEAK_KB" in proc.stderr:
        peak = int(proc.stderr.split("PEAK_KB")[-1].split()[0])
    return proc, peak
