"""Tiny synthetic bottleneck corpora in stage 7's output format, for tests and benchmarks.

IEMOCAP-like: sessions 1..S with one F and one M speaker each (``Ses01F`` ...), utterance ids
``Ses01F_impro01_F000``; every frame of an utterance is drawn around its class mean plus a
speaker offset, so the classes are separable to a degree set by ``separation`` (0: chance).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from lhotse import CutSet, MonoCut, NumpyFilesWriter, SupervisionSegment

FRAME_SHIFT = 0.03


def make_synthetic_cuts(
    out_dir: str | Path,
    num_sessions: int = 5,
    utts_per_speaker: int = 12,
    dim: int = 16,
    classes: Sequence[str] = ("ang", "exc", "neu", "sad"),
    separation: float = 1.0,
    shuffle_labels: bool = False,
    min_frames: int = 15,
    max_frames: int = 40,
    seed: int = 0,
) -> CutSet:
    """Write the arrays under ``out_dir/bottleneck`` and return the cuts (also saved as
    ``out_dir/cuts.jsonl.gz``). Arrays are numpy files (lilcom is not installed here).
    ``shuffle_labels`` permutes the labels after the arrays are drawn, leaving no relation
    between frames and labels."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(len(classes), dim)) * separation
    cuts, labels = [], []
    with NumpyFilesWriter(out_dir / "bottleneck") as writer:
        for s in range(1, num_sessions + 1):
            for g in ("F", "M"):
                spk = f"Ses0{s}{g}"
                offset = rng.normal(size=dim) * 0.3
                for i in range(utts_per_speaker):
                    c = int(rng.integers(len(classes))) if i >= len(classes) else i
                    t = int(rng.integers(min_frames, max_frames + 1))
                    arr = (means[c] + offset + rng.normal(size=(t, dim))).astype(np.float32)
                    cid = f"{spk}_impro0{i % 3 + 1}_{g}{i:03d}"
                    dur = round(t * FRAME_SHIFT, 2)
                    sup = SupervisionSegment(
                        id=cid,
                        recording_id=cid,
                        start=0.0,
                        duration=dur,
                        speaker=spk,
                        gender=g,
                        custom={
                            "emotion": classes[c],
                            "raw_emotion": classes[c],
                            "valence": 3.0,
                            "arousal": 3.0,
                            "dominance": 3.0,
                            "session": s,
                            "dialog": f"{spk[:5]}_impro0{i % 3 + 1}",
                            "improvised": True,
                        },
                    )
                    cut = MonoCut(id=cid, start=0.0, duration=dur, channel=0, supervisions=[sup])
                    cut.bottleneck = writer.store_array(
                        cid, arr, frame_shift=FRAME_SHIFT, temporal_dim=0
                    )
                    cuts.append(cut)
                    labels.append(classes[c])
    if shuffle_labels:
        perm = rng.permutation(len(labels))
        for cut, j in zip(cuts, perm):
            cut.supervisions[0].custom["emotion"] = labels[j]
    cutset = CutSet.from_cuts(cuts)
    cutset.to_file(out_dir / "cuts.jsonl.gz")
    return cutset


def make_random_model_dir(
    root: str | Path,
    classes: Sequence[str] = ("ang", "exc", "neu", "sad"),
    layer: str = "tdnnf12",
    tdnnf_kwargs: dict | None = None,
    num_gauss: int = 512,
    pca_dim: int = 40,
    seed: int = 0,
) -> Path:
    """A model dir with untrained (random) parts of the real kinds, in the layout stage 8 writes:
    for timing ``asr2emo predict`` and testing its plumbing without a trained ASR model.
    ``tdnnf_kwargs`` override :class:`asr2emo.model.TdnnfConfig` (default: the paper's)."""
    from dataclasses import asdict

    import torch

    from asr2emo.emotion.export import write_model_dir
    from asr2emo.emotion.head import EmotionHead
    from asr2emo.ivector import IvectorExtractor
    from asr2emo.ivector.extractor import IvectorOptions
    from asr2emo.ivector.pca import Pca, splice
    from asr2emo.ivector.ubm import init_gmm
    from asr2emo.model import TdnnfConfig, build_model

    root = Path(root)
    torch.manual_seed(seed)
    cfg = TdnnfConfig(**(tdnnf_kwargs or {}))
    model = build_model(cfg, 50)
    (root / "tdnnf").mkdir(parents=True, exist_ok=True)
    torch.save(
        {"model_config": asdict(cfg), "model": model.state_dict(), "num_outputs": 50},
        root / "tdnnf" / "final.pt",
    )
    opts = IvectorOptions()
    frames = splice(torch.randn(max(2000, 4 * num_gauss), cfg.feat_dim), opts.splice_context)
    pca = Pca.estimate(frames, pca_dim)
    ubm = init_gmm(pca(frames), num_gauss, torch.Generator().manual_seed(seed))
    T = torch.randn(num_gauss, pca_dim, cfg.ivector_dim) * 0.1
    IvectorExtractor(pca, ubm, T, opts).save(root / "ivector")
    head = EmotionHead(model.layer_dim(layer), len(classes)).eval()
    write_model_dir(
        root / "model",
        head,
        list(classes),
        layer,
        {"random": True},
        root / "tdnnf",
        root / "ivector",
        None,
    )
    return root / "model"
