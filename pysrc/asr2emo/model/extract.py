"""Stage 7: frame-level outputs of named TDNN-F layers ("bottlenecks") stored on lhotse cuts.

For each layer, ``<out_dir>/<layer>/cuts.jsonl.gz`` holds the input cuts (supervisions
unchanged) with a custom ``TemporalArray`` ``bottleneck`` of shape ``(ceil(T / 3), dim)`` at a
0.03 s frame shift, stored under ``<out_dir>/<layer>/feats`` by ``LilcomChunkyWriter`` (lossy)
or ``NumpyFilesWriter`` (exact; when lilcom is missing or with ``storage="numpy"``); ``.done``
per layer records the model checkpoint and the cuts it was computed from (a new ``final.pt`` or
new cuts recompute the layer). The model runs frozen (eval mode: batchnorm running statistics,
no dropout), one cut at a time, in chunks of ``chunk_size`` output frames with full left/right
context, so the numbers do not depend on the chunking (tested).
"""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from lhotse import CutSet
from tqdm import tqdm

from asr2emo.model.dataset import load_ivectors
from asr2emo.model.tdnnf import TdnnfModel
from asr2emo.utils.errors import UserError
from asr2emo.utils.io import atomic_path
from asr2emo.utils.markers import make_record, needs_run, write_marker

ARRAY_NAME = "bottleneck"


def extract_cut(
    model: TdnnfModel, cut, layers: Sequence[str], chunk_size: int, device, require_ivectors: bool
) -> Dict[str, np.ndarray]:
    """``{layer: (T_out, dim) float32}`` for one cut."""
    c = model.config
    feats = np.asarray(cut.load_features(), dtype=np.float32)
    iv = load_ivectors(cut, feats.shape[0], c.ivector_dim, c.ivector_period, require_ivectors)
    out = model.extract_multi(
        torch.from_numpy(feats).unsqueeze(0).to(device),
        torch.from_numpy(iv).unsqueeze(0).to(device),
        layers,
        chunk_size=chunk_size,
    )
    return {k: v[0].cpu().numpy().astype(np.float32) for k, v in out.items()}


def extract_bottlenecks(
    model: TdnnfModel,
    cuts: CutSet,
    layers: Sequence[str],
    out_dir: Path | str,
    chunk_size: int = 500,
    device: str | torch.device = "cpu",
    require_ivectors: bool = True,
    storage: str = "auto",
    inputs: Optional[Mapping[str, Path]] = None,
    nj: int = 1,
    cmd: Optional[str] = None,
) -> List[Path]:
    """Write ``<out_dir>/<layer>/cuts.jsonl.gz`` for every layer not finished on ``inputs``
    (``{"model": checkpoint, "cuts": cuts manifest}``, recorded in each layer's ``.done``);
    return the paths. With ``nj`` > 1 the cuts are split into ``nj`` contiguous parts, each
    extracted by a job (local processes, or ``cmd``'s, a Kaldi job runner) that loads the model
    from its checkpoint and writes ``<layer>/feats-<j>``; the arrays do not depend on ``nj``.

    ``storage``: ``lilcom`` (lossy, ~4x smaller), ``numpy`` (exact) or ``auto`` (lilcom when
    installed).
    """
    from lhotse.features.io import LilcomChunkyWriter, NumpyFilesWriter

    from asr2emo.features.storage import feature_writer_type

    out_dir = Path(out_dir)
    for layer in layers:
        model.check_layer(layer)
    writer_type = {"lilcom": LilcomChunkyWriter, "numpy": NumpyFilesWriter}.get(storage)
    if writer_type is None:
        writer_type = feature_writer_type()
    settings = {"storage": writer_type.name, "require_ivectors": require_ivectors}
    records = {
        layer: make_record("extract-bottleneck", dict(settings, layer=layer), inputs or {})
        for layer in layers
    }
    todo = [
        layer
        for layer in layers
        if needs_run(out_dir / layer, records[layer], f"bottleneck {out_dir / layer}")
    ]
    if not todo:
        return [out_dir / layer / "cuts.jsonl.gz" for layer in layers]
    model.eval()
    t0 = time.time()
    if nj <= 1:
        results, audio = _extract_part(
            model, [c.to_dict() for c in cuts], todo, out_dir, "feats", writer_type.name,
            chunk_size, str(device), require_ivectors,
        )  # fmt: skip
    else:
        results, audio = _extract_jobs(
            model, cuts, todo, out_dir, writer_type.name, chunk_size, device, require_ivectors,
            nj, cmd,
        )  # fmt: skip
    elapsed = time.time() - t0
    logging.info(
        f"extracted {', '.join(todo)} for {len(results[todo[0]])} cuts ({audio:.1f} s of audio) "
        f"in {elapsed:.1f} s: {audio / max(elapsed, 1e-9):.1f} x real time"
    )
    for layer in todo:
        path = out_dir / layer / "cuts.jsonl.gz"
        with atomic_path(path) as tmp:
            CutSet.from_dicts(results[layer]).to_file(tmp)
        write_marker(out_dir / layer, records[layer])
    return [out_dir / layer / "cuts.jsonl.gz" for layer in layers]


def _extract_part(
    model,
    cut_dicts: List[dict],
    layers: Sequence[str],
    out_dir: Path,
    storage_name: str,
    writer_name: str,
    chunk_size: int,
    device: str,
    require_ivectors: bool,
    threads: int = 0,
) -> Tuple[Dict[str, List[dict]], float]:
    """One job: the layers of ``cut_dicts`` into ``<layer>/<storage_name>``; ``model`` is a
    TdnnfModel or the path of its checkpoint (loaded in the job). Returns the cut dicts per
    layer and the seconds of audio."""
    from lhotse.features.io import get_writer

    if threads:
        torch.set_num_threads(threads)
    if isinstance(model, (str, Path)):
        from asr2emo.model import load_model

        model = load_model(model, device)
    frame_shift = 0.01 * model.config.frame_subsampling_factor
    results: Dict[str, List[dict]] = {layer: [] for layer in layers}
    audio = 0.0
    with contextlib.ExitStack() as stack:
        writers = {}
        for layer in layers:
            (Path(out_dir) / layer).mkdir(parents=True, exist_ok=True)
            path = str(Path(out_dir) / layer / storage_name)
            writers[layer] = stack.enter_context(get_writer(writer_name)(path, mode="w"))
        cuts = CutSet.from_dicts(cut_dicts)
        for cut in tqdm(cuts, desc="bottleneck", unit="cut", total=len(cut_dicts)):
            if not cut.has_features:
                raise UserError(f"cut {cut.id} has no features; run the MFCC stage first")
            arrays = extract_cut(model, cut, layers, chunk_size, device, require_ivectors)
            audio += cut.duration
            for layer, arr in arrays.items():
                info = writers[layer].store_array(
                    cut.id, arr, frame_shift=frame_shift, temporal_dim=0, start=cut.start
                )
                results[layer].append(_with_array(cut, info).to_dict())
    return results, audio


def _extract_jobs(
    model, cuts, layers, out_dir, writer_name, chunk_size, device, require_ivectors, nj, cmd
) -> Tuple[Dict[str, List[dict]], float]:
    """:func:`_extract_part` over ``nj`` contiguous parts of ``cuts``, merged in order."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from asr2emo.utils.jobs import RunnerExecutor

    dicts = [c.to_dict() for c in cuts]
    nj = max(1, min(nj, len(dicts)))
    bounds = np.linspace(0, len(dicts), nj + 1).astype(int)
    checkpoint = str(model.info["checkpoint"])
    args = [
        (checkpoint, dicts[a:b], list(layers), str(out_dir), f"feats-{j}", writer_name,
         chunk_size, str(device), require_ivectors, 1)
        for j, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]))
    ]  # fmt: skip
    if cmd:
        parts = list(RunnerExecutor(cmd, Path(out_dir), "extract_bottleneck").map(
            _extract_part, *zip(*args)
        ))  # fmt: skip
    else:
        with ProcessPoolExecutor(nj, mp_context=multiprocessing.get_context("spawn")) as ex:
            parts = list(ex.map(_extract_part, *zip(*args)))
    results: Dict[str, List[dict]] = {layer: [] for layer in layers}
    audio = 0.0
    for part, seconds in parts:
        for layer in layers:
            results[layer].extend(part[layer])
        audio += seconds
    return results, audio


def _with_array(cut, array):
    """A copy of ``cut`` whose custom ``bottleneck`` is ``array`` (other fields unchanged)."""
    from copy import deepcopy

    new = deepcopy(cut)
    setattr(new, ARRAY_NAME, array)
    return new
