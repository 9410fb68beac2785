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
from typing import Dict, List, Mapping, Optional, Sequence

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
) -> List[Path]:
    """Write ``<out_dir>/<layer>/cuts.jsonl.gz`` for every layer not finished on ``inputs``
    (``{"model": checkpoint, "cuts": cuts manifest}``, recorded in each layer's ``.done``);
    return the paths.

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
    f = model.config.frame_subsampling_factor
    frame_shift = 0.01 * f
    writers, results = {}, {layer: [] for layer in todo}
    t0, audio = time.time(), 0.0
    with contextlib.ExitStack() as stack:
        for layer in todo:
            (out_dir / layer).mkdir(parents=True, exist_ok=True)
            writers[layer] = stack.enter_context(
                writer_type(str(out_dir / layer / "feats"), mode="w")
            )
        for cut in tqdm(cuts, desc="bottleneck", unit="cut"):
            if not cut.has_features:
                raise UserError(f"cut {cut.id} has no features; run the MFCC stage first")
            arrays = extract_cut(model, cut, todo, chunk_size, device, require_ivectors)
            audio += cut.duration
            for layer, arr in arrays.items():
                info = writers[layer].store_array(
                    cut.id, arr, frame_shift=frame_shift, temporal_dim=0, start=cut.start
                )
                results[layer].append(_with_array(cut, info))
    elapsed = time.time() - t0
    logging.info(
        f"extracted {', '.join(todo)} for {len(results[todo[0]])} cuts ({audio:.1f} s of audio) "
        f"in {elapsed:.1f} s: {audio / max(elapsed, 1e-9):.1f} x real time"
    )
    for layer in todo:
        path = out_dir / layer / "cuts.jsonl.gz"
        with atomic_path(path) as tmp:
            CutSet.from_cuts(results[layer]).to_file(tmp)
        write_marker(out_dir / layer, records[layer])
    return [out_dir / layer / "cuts.jsonl.gz" for layer in layers]


def _with_array(cut, array):
    """A copy of ``cut`` whose custom ``bottleneck`` is ``array`` (other fields unchanged)."""
    from copy import deepcopy

    new = deepcopy(cut)
    setattr(new, ARRAY_NAME, array)
    return new
