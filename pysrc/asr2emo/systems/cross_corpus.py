"""Cross-corpus emotion recognition: train the head on one or more corpora, test on another.

Each corpus's labels are mapped onto a common class set by a label map from the conf
(``ang:angry,exc:happy,...``): a label the map names but the corpus lacks, or a target outside
the common classes, is an error; a corpus label the map leaves out is dropped and counted.
Every corpus is standardized on its own frames (mean/std per dimension, no labels), which
removes the corpus/channel offset the head would otherwise learn; the sources are then
concatenated, one source speaker (seeded, >= 10 utterances) is held out for early stopping as
in stage 8, and the target corpus is scored whole.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch

from asr2emo.emotion.data import FrameData
from asr2emo.emotion.head import Standardizer
from asr2emo.emotion.metrics import summarize
from asr2emo.emotion.train import HeadConfig, score, train_head
from asr2emo.utils.errors import UserError


def parse_label_maps(spec: str) -> Dict[str, Dict[str, str]]:
    """``"iemocap=ang:angry,exc:happy;urdu=angry:angry"`` -> ``{corpus: {label: class}}``."""
    maps: Dict[str, Dict[str, str]] = {}
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        corpus, sep, pairs = part.partition("=")
        if not sep or not corpus:
            raise UserError(f"label map '{part}': expected CORPUS=label:class,...")
        m: Dict[str, str] = {}
        for pair in filter(None, (p.strip() for p in pairs.split(","))):
            label, sep, cls = pair.partition(":")
            if not sep or not label or not cls:
                raise UserError(f"label map of {corpus}: '{pair}' is not label:class")
            m[label] = cls
        maps[corpus.strip()] = m
    return maps


def parse_runs(spec: str) -> List[Tuple[List[str], str]]:
    """``"iemocap->urdu;iemocap+urdu->emodb"`` -> ``[(sources, target), ...]``."""
    runs = []
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        src, sep, tgt = part.partition("->")
        sources = [s.strip() for s in src.split("+") if s.strip()]
        if not sep or not sources or not tgt.strip():
            raise UserError(f"run '{part}': expected SOURCE[+SOURCE...]->TARGET")
        if tgt.strip() in sources:
            raise UserError(f"run '{part}': the target is also a source")
        runs.append((sources, tgt.strip()))
    return runs


def relabel(
    data: FrameData, mapping: Dict[str, str], classes: Sequence[str], corpus: str
) -> FrameData:
    """``data`` with its labels mapped onto ``classes`` (unmapped labels dropped, counted)."""
    unknown = sorted(set(mapping) - set(data.classes))
    if unknown:
        raise UserError(
            f"label map of {corpus}: label(s) {', '.join(unknown)} not in the corpus "
            f"(its labels: {', '.join(data.classes)})"
        )
    outside = sorted(set(mapping.values()) - set(classes))
    if outside:
        raise UserError(
            f"label map of {corpus}: class(es) {', '.join(outside)} not among the common "
            f"classes {', '.join(classes)}"
        )
    names = [data.classes[int(y)] for y in data.labels]
    keep = np.asarray([n in mapping for n in names])
    dropped = Counter(n for n, k in zip(names, keep) if not k)
    for label, n in sorted(dropped.items()):
        logging.warning(
            "%s: dropped %d utterance(s) labelled %s (not in the label map)", corpus, n, label
        )
    utts = np.flatnonzero(keep)
    cid = {c: i for i, c in enumerate(classes)}
    rows = torch.from_numpy(data.frame_rows(utts))
    lens = data.num_frames()[utts]
    return FrameData(
        feats=data.feats[rows],
        offsets=np.concatenate([[0], np.cumsum(lens)]).astype(np.int64),
        ids=[data.ids[u] for u in utts],
        speakers=[data.speakers[u] for u in utts],
        sessions=data.sessions[utts],
        labels=np.asarray([cid[mapping[names[u]]] for u in utts], dtype=np.int64),
        classes=list(classes),
        skipped={**data.skipped, **{f"label {k} (unmapped)": v for k, v in dropped.items()}},
    )


def standardize(data: FrameData) -> FrameData:
    """``data`` with its frames standardized by the corpus's own mean/std (labels unused)."""
    st = Standardizer(data.dim).fit(data.feats)
    feats = torch.empty(data.feats.shape, dtype=data.feats.dtype)
    for s in range(0, len(feats), 1 << 14):
        feats[s : s + (1 << 14)] = st(data.feats[s : s + (1 << 14)].float()).to(feats.dtype)
    return FrameData(**{**data.__dict__, "feats": feats})


def concat(corpora: Dict[str, FrameData]) -> FrameData:
    """One FrameData of several corpora; speakers and sessions made distinct per corpus."""
    parts = list(corpora.items())
    classes = parts[0][1].classes
    if any(d.classes != classes for _, d in parts):
        raise UserError("corpora with different class lists cannot be concatenated")
    offsets, base = [np.zeros(1, dtype=np.int64)], 0
    for _, d in parts:
        offsets.append(d.offsets[1:] + base)
        base += int(d.offsets[-1])
    return FrameData(
        feats=torch.cat([d.feats for _, d in parts]),
        offsets=np.concatenate(offsets),
        ids=[f"{n}/{u}" for n, d in parts for u in d.ids],
        speakers=[f"{n}/{s}" for n, d in parts for s in d.speakers],
        sessions=np.concatenate([d.sessions + 1000 * j for j, (_, d) in enumerate(parts)]),
        labels=np.concatenate([d.labels for _, d in parts]),
        classes=list(classes),
    )


def validation_split(speakers: Sequence[str], seed: int, min_utts: int = 10):
    """``(train, val, val_speaker)``: one seeded speaker with >= ``min_utts`` utterances."""
    counts = Counter(speakers)
    eligible = sorted(s for s, n in counts.items() if n >= min_utts) or sorted(counts)
    if len(counts) < 2:
        raise UserError("cross-corpus training needs at least 2 source speakers")
    val_speaker = random.Random(seed).choice(eligible)
    spk = np.asarray(speakers)
    return np.flatnonzero(spk != val_speaker), np.flatnonzero(spk == val_speaker), val_speaker


@dataclass
class CrossResult:
    """One run's target metrics, its validation speaker and early-stopping epoch."""

    metrics: Dict
    val_speaker: str
    best_epoch: int
    predictions: List[Dict]


def run_cross(
    sources: Dict[str, FrameData], target: FrameData, cfg: HeadConfig, device: str = "cpu"
) -> CrossResult:
    """Train on ``sources`` (each already relabelled and standardized), score ``target``."""
    train_data = concat(sources)
    tr, va, val_speaker = validation_split(train_data.speakers, cfg.seed)
    res = train_head(train_data, tr, va, cfg, device)
    utts = np.arange(target.num_utts)
    scored = score(res.head, target, utts)
    pred = scored["sum_softmax"].numpy()
    metrics = summarize(target.labels, pred, target.classes)
    post = scored["posteriors"].tolist()
    preds = [
        {
            "id": target.ids[u],
            "speaker": target.speakers[u],
            "label": target.classes[int(target.labels[u])],
            "pred": target.classes[int(pred[u])],
            "posteriors": {c: round(p, 6) for c, p in zip(target.classes, post[u])},
        }
        for u in utts.tolist()
    ]
    return CrossResult(metrics, val_speaker, res.best_epoch, preds)
