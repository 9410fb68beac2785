"""Training checkpoints: save/resume (model, optimizer, schedule, sampler, RNG) and averaging.

Layout of an experiment directory (icefall habit, Kaldi names):

    epoch-N.pt          state at the end of epoch N
    checkpoint-S.pt     state after global step S (every --save-every-n batches)
    last_checkpoint     name of the newest of the above (written atomically, read on resume)
    final.pt            model-only average of the last --average-n epoch checkpoints, its
                        batchnorm statistics recomputed on training data (Kaldi's habit;
                        --recompute-stats-batches)

Every file is written atomically, so a kill (even SIGKILL) leaves either the previous or the new
checkpoint, never half of one. A checkpoint also stores what makes the model usable on its own:
the topology config, the number of outputs, the CMVN (as model buffers) and the i-vector setup.
"""

from __future__ import annotations

import logging
import random
import re
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import numpy as np
import torch

from asr2emo.utils.errors import UserError
from asr2emo.utils.io import atomic_path

Pathlike = Union[str, Path]
LAST = "last_checkpoint"


def rng_state(device: Union[str, torch.device] = "cpu") -> Dict[str, Any]:
    """This process's generators: Python, numpy, torch CPU and, when ``device`` is a GPU, that
    GPU's. Only the process's own GPU: asking for every visible GPU's state (as
    ``get_rng_state_all`` does) would open a CUDA context on each of them from every rank."""
    device = torch.device(device)
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
    }


def set_rng_state(state: Dict[str, Any], device: Union[str, torch.device] = "cpu") -> None:
    """Restore :func:`rng_state`; a CUDA state is restored only onto a GPU ``device`` (a list,
    from checkpoints of older code, holds one state per visible GPU)."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    device = torch.device(device)
    cuda = state.get("cuda")
    if cuda is not None and device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        if isinstance(cuda, (list, tuple)):
            cuda = cuda[index] if index < len(cuda) else None
        if cuda is not None:
            torch.cuda.set_rng_state(cuda, device)


def save_checkpoint(
    path: Pathlike, state: Dict[str, Any], exp_dir: Optional[Pathlike] = None
) -> None:
    """Write ``state`` atomically to ``path``; with ``exp_dir``, point ``last_checkpoint`` at it."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    if exp_dir is not None:
        with atomic_path(Path(exp_dir) / LAST) as tmp:
            tmp.write_text(path.name + "\n")
    logging.info(f"saved {path}")


def latest_checkpoint(exp_dir: Pathlike) -> Optional[Path]:
    """The checkpoint named by ``last_checkpoint``, or None on a fresh start."""
    marker = Path(exp_dir) / LAST
    if not marker.is_file():
        return None
    path = Path(exp_dir) / marker.read_text().strip()
    return path if path.is_file() else None


def epoch_checkpoints(exp_dir: Pathlike) -> List[Path]:
    """``epoch-N.pt`` files sorted by N."""
    found = []
    for p in Path(exp_dir).glob("epoch-*.pt"):
        m = re.fullmatch(r"epoch-(\d+)\.pt", p.name)
        if m:
            found.append((int(m.group(1)), p))
    return [p for _, p in sorted(found)]


def remove_old_step_checkpoints(exp_dir: Pathlike, keep: int) -> None:
    """Keep only the ``keep`` newest ``checkpoint-S.pt`` files (they are big at paper size)."""
    found = []
    for p in Path(exp_dir).glob("checkpoint-*.pt"):
        m = re.fullmatch(r"checkpoint-(\d+)\.pt", p.name)
        if m:
            found.append((int(m.group(1)), p))
    for _, p in sorted(found)[: max(len(found) - keep, 0)]:
        p.unlink()


def average_state_dicts(paths: List[Pathlike]) -> Dict[str, torch.Tensor]:
    """Element-wise mean of the ``model`` entries (integer buffers: floor of the mean)."""
    if not paths:
        raise UserError("no checkpoints to average")
    avg: Dict[str, torch.Tensor] = {}
    for i, p in enumerate(paths):
        sd = torch.load(p, map_location="cpu")["model"]
        if i == 0:
            avg = {
                k: v.clone().double() if v.is_floating_point() else v.clone() for k, v in sd.items()
            }
        else:
            for k, v in sd.items():
                avg[k] += v.double() if v.is_floating_point() else v
    n = len(paths)
    out = {}
    for k, v in avg.items():
        out[k] = (
            (v / n).float() if v.is_floating_point() else torch.div(v, n, rounding_mode="floor")
        )
    return out


def model_info(checkpoint: Dict[str, Any]) -> Dict[str, Any]:
    """The entries a model directory needs besides the weights (copied into ``final.pt``)."""
    keys = ("model_config", "num_outputs", "ivector", "lang_dir", "cmvn")
    return {k: checkpoint[k] for k in keys if k in checkpoint}


def write_final(
    exp_dir: Pathlike,
    average_n: int,
    recompute: Optional[Callable[[Dict[str, torch.Tensor]], Tuple[Dict, Dict]]] = None,
) -> Path:
    """``final.pt`` = model average of the last ``average_n`` epoch checkpoints; ``recompute``
    (``state -> (state, summary)``, :func:`asr2emo.model.batchnorm_stats.recompute_state_stats`)
    then replaces the averaged batchnorm statistics, as Kaldi does after combining."""
    epochs = epoch_checkpoints(exp_dir)
    if not epochs:
        raise UserError(f"{exp_dir}: no epoch-N.pt to average")
    chosen = epochs[-max(average_n, 1) :]
    last = torch.load(chosen[-1], map_location="cpu")
    final = model_info(last)
    final["model"] = average_state_dicts(chosen)
    final["averaged"] = [p.name for p in chosen]
    if recompute is not None:
        final["model"], summary = recompute(final["model"])
        final["batchnorm_recomputed"] = {"batches": summary["batches"]}
    save_checkpoint(Path(exp_dir) / "final.pt", final)
    logging.info(f"final.pt = average of {', '.join(p.name for p in chosen)}")
    return Path(exp_dir) / "final.pt"


def final_from_last_checkpoint(exp_dir: Pathlike) -> Path:
    """``final.pt`` from the newest checkpoint, for a deliberately bounded run (``--max-steps``:
    the scale rehearsal times a few steps and runs the later stages on what they produced);
    its ``averaged`` entry says so. A normal training writes ``final.pt`` itself."""
    last = latest_checkpoint(exp_dir)
    if last is None:
        raise UserError(f"{exp_dir}: no checkpoint to make final.pt from")
    ckpt = torch.load(last, map_location="cpu")
    final = model_info(ckpt)
    final["model"] = ckpt["model"]
    final["averaged"] = [f"{last.name} (bounded run, step {ckpt['step']})"]
    save_checkpoint(Path(exp_dir) / "final.pt", final)
    return Path(exp_dir) / "final.pt"
