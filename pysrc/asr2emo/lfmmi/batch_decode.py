"""Stage 5's decoding loop: cuts -> 1-best words with HLG, in ``nj`` jobs.

The cuts are split into ``nj`` contiguous parts decoded in duration-bounded batches. One job
runs in the caller's process with the model it loaded; each of ``nj > 1`` jobs is a process
of its own that loads the model's checkpoint and HLG once. A cut's network output does not
depend on the batch it is in (each cut's edges are padded by its own frames, batchnorm runs on
its running statistics) and k2 prunes each sequence on its own, so the hypotheses do not depend
on ``nj``.
Jobs run in local processes, or through a Kaldi job runner (``cmd``, e.g. ``$decode_cmd``);
every job holds its own HLG (about 6 GB with TED-LIUM's 152k-word lexicon).
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

import torch

if TYPE_CHECKING:
    import k2

    from asr2emo.model.tdnnf import TdnnfModel


@dataclass
class DecodeOptions:
    """The search options of ``conf/decode.conf``."""

    search_beam: float = 20.0
    output_beam: float = 8.0
    min_active_states: int = 30
    max_active_states: int = 10000
    acoustic_scale: float = 1.0
    max_duration: float = 100.0
    require_ivectors: bool = True


def decode_part(
    model: "TdnnfModel",
    HLG: "k2.Fsa",
    cut_dicts: List[dict],
    opts: DecodeOptions,
    device: str,
) -> Tuple[Dict[str, List[str]], Dict[str, List[str]], float]:
    """``(hyps, refs, seconds of audio)`` of the cuts ``cut_dicts``, with a loaded model and
    graph on ``device``."""
    from lhotse import CutSet

    from asr2emo.lfmmi.decode import decode_one_best
    from asr2emo.model.dataset import AsrDataset, make_sampler
    from asr2emo.model.trainer import supervision_segments

    iv = model.info.get("ivector", {})
    dataset = AsrDataset(int(iv.get("dim", 0)), int(iv.get("period", 10)), opts.require_ivectors)
    hyps: Dict[str, List[str]] = {}
    refs: Dict[str, List[str]] = {}
    audio = 0.0
    cuts = CutSet.from_dicts(cut_dicts)
    with torch.no_grad():
        for batch_cuts in make_sampler(cuts, opts.max_duration, False, False, 1, 0):
            batch = dataset[batch_cuts]
            audio += batch["duration"]
            log_probs, out_lens = model(
                batch["feats"].to(device),
                batch["ivectors"].to(device),
                batch["feat_lens"].to(device),
            )
            segs, order = supervision_segments(out_lens.cpu())
            words = decode_one_best(
                log_probs,
                segs,
                HLG,
                search_beam=opts.search_beam,
                output_beam=opts.output_beam,
                min_active_states=opts.min_active_states,
                max_active_states=opts.max_active_states,
                acoustic_scale=opts.acoustic_scale,
            )
            for i, w in zip(order.tolist(), words):
                hyps[batch["cut_ids"][i]] = w
                refs[batch["cut_ids"][i]] = batch["texts"][i].split()
    return hyps, refs, audio


def decode_job(
    checkpoint: str,
    lang_dir: str,
    cut_dicts: List[dict],
    opts: DecodeOptions,
    device: str,
    threads: int = 1,
) -> Tuple[Dict[str, List[str]], Dict[str, List[str]], float]:
    """One job of its own process: loads the model and HLG once, then :func:`decode_part`."""
    from asr2emo.lfmmi.decode import load_hlg
    from asr2emo.model import load_model

    torch.set_num_threads(max(1, threads))
    model = load_model(checkpoint, device)
    return decode_part(model, load_hlg(lang_dir, device), cut_dicts, opts, device)


def decode_cuts(
    model: "TdnnfModel",
    lang_dir: Path,
    cuts: Sequence,
    opts: DecodeOptions,
    device: str = "cpu",
    nj: int = 1,
    cmd: Optional[str] = None,
    work_dir: Optional[Path] = None,
    threads: int = 1,
) -> Tuple[Dict[str, List[str]], Dict[str, List[str]], float]:
    """``(hyps, refs, seconds of audio)`` of every cut, decoded in ``nj`` jobs (one thread
    each; a single job uses ``threads``). A single job decodes here with ``model`` (moved to
    ``device``); parallel jobs are other processes, each loading ``model``'s checkpoint."""
    import numpy as np

    from asr2emo.lfmmi.decode import load_hlg
    from asr2emo.utils.jobs import RunnerExecutor

    dicts = [c.to_dict() for c in cuts]
    nj = max(1, min(nj, len(dicts)))
    if nj == 1:
        torch.set_num_threads(max(1, threads))
        HLG = load_hlg(lang_dir, device)
        return decode_part(model.to(device), HLG, dicts, opts, str(device))
    bounds = np.linspace(0, len(dicts), nj + 1).astype(int)
    parts = [dicts[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    checkpoint = str(model.info["checkpoint"])
    args = [(checkpoint, str(lang_dir), p, opts, str(device), 1) for p in parts]
    if cmd:
        ex = RunnerExecutor(cmd, work_dir or Path("."), "decode")
        results = list(ex.map(decode_job, *zip(*args)))
    else:
        import multiprocessing

        with ProcessPoolExecutor(nj, mp_context=multiprocessing.get_context("spawn")) as ex:
            results = list(ex.map(decode_job, *zip(*args)))
    hyps: Dict[str, List[str]] = {}
    refs: Dict[str, List[str]] = {}
    audio = 0.0
    for h, r, a in results:
        hyps.update(h)
        refs.update(r)
        audio += a
    return hyps, refs, audio
