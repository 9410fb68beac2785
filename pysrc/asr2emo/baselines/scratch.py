"""Baseline (c): the TDNN-F and emotion head of the transfer system, trained from scratch on the
emotion data alone (no ASR pretraining), on stage 8's folds.

Same network as stage 4 (``tdnnf.conf``: MFCC t-1,t,t+1 + online i-vector -> tdnn1 ->
tdnnf2..) up to the bottleneck layer, then stage 8's head (dense + softmax). Network and head
are trained together with frame-level cross-entropy (every output frame labelled with its
utterance's emotion; padded frames masked), Adam, the dropout schedule of the conf and Kaldi's
semi-orthogonal constraint every 4 steps. CMVN comes from the training fold. Early stopping on
the validation speaker's UA; the decision is the summed softmax over frames (as stage 8).

Inputs per utterance (hires MFCC frames, online i-vectors of the stage-3 extractor) are cached
in ``<cache-dir>/frames.npz`` (``ids``, ``lens``, ``feats``, ``iv_lens``, ``ivectors``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from tqdm import tqdm

from asr2emo.baselines.utterances import UttTable
from asr2emo.emotion.aggregate import aggregate
from asr2emo.emotion.folds import Fold
from asr2emo.emotion.head import EmotionHead
from asr2emo.emotion.metrics import summarize
from asr2emo.emotion.train import EarlyStopping
from asr2emo.features.mfcc import KaldiMfccHiresConfig, compute_mfcc
from asr2emo.model.tdnnf import TdnnfConfig, build_model
from asr2emo.utils.errors import UserError
from asr2emo.utils.io import atomic_path


@dataclass
class ScratchConfig:
    """Training settings of the from-scratch system (``baselines.conf`` ``--scratch-*``)."""

    layer: str = "tdnnf12"
    lr: float = 1e-3
    max_epochs: int = 10
    patience: int = 3
    batch_frames: int = 4000  # input frames per minibatch (utterances bucketed by length)
    dropout: float = 0.2  # of the head
    seed: int = 1


@dataclass
class FrameInputs:
    feats: List[np.ndarray]  # per utterance (T, 40)
    ivectors: List[np.ndarray]  # per utterance (ceil(T / period), R)


def frame_inputs(
    table: UttTable,
    cache_dir: Path,
    mfcc_config: KaldiMfccHiresConfig,
    ivector_dir: Optional[Path],
) -> FrameInputs:
    """MFCC frames and online i-vectors of every utterance (cached by utterance id)."""
    if ivector_dir is None:
        raise UserError("the from-scratch TDNN-F needs --ivector-dir (stage-3 extractor)")
    from asr2emo.ivector.extractor import IvectorExtractor

    path = Path(cache_dir) / "frames.npz"
    meta = json.dumps(
        {"mfcc": dataclasses.asdict(mfcc_config), "ivector": str(Path(ivector_dir).resolve())}
    )
    cached: Dict[str, Tuple[np.ndarray, np.ndarray]] = {}
    if path.is_file():
        with np.load(path) as z:
            if str(z["meta"]) == meta:
                fo = np.concatenate([[0], np.cumsum(z["lens"])])
                io_ = np.concatenate([[0], np.cumsum(z["iv_lens"])])
                for i, u in enumerate(z["ids"].tolist()):
                    cached[u] = (
                        z["feats"][fo[i] : fo[i + 1]],
                        z["ivectors"][io_[i] : io_[i + 1]],
                    )
    todo = [i for i, u in enumerate(table.ids) if u not in cached]
    if todo:
        torch.set_num_threads(1)
        extractor = IvectorExtractor.load(ivector_dir)
        for i in tqdm(todo, desc="MFCC + online i-vectors", unit="utt"):
            samples, sr = table.load_audio(i)
            mfcc = compute_mfcc(samples, sr, mfcc_config)
            cached[table.ids[i]] = (mfcc, extractor.extract_online(mfcc).astype(np.float32))
        ids = sorted(cached)
        with atomic_path(path) as tmp:
            np.savez(
                tmp,
                ids=np.asarray(ids),
                lens=np.asarray([len(cached[u][0]) for u in ids]),
                feats=np.concatenate([cached[u][0] for u in ids]).astype(np.float32),
                iv_lens=np.asarray([len(cached[u][1]) for u in ids]),
                ivectors=np.concatenate([cached[u][1] for u in ids]).astype(np.float32),
                meta=np.asarray(meta),
            )
    return FrameInputs(
        feats=[cached[u][0] for u in table.ids], ivectors=[cached[u][1] for u in table.ids]
    )


def _pad(arrays: Sequence[np.ndarray]) -> torch.Tensor:
    """Edge-padded ``(N, T_max, D)`` (the model also pads with edge frames)."""
    tmax = max(a.shape[0] for a in arrays)
    out = np.stack([np.concatenate([a, np.repeat(a[-1:], tmax - len(a), 0)]) for a in arrays])
    return torch.from_numpy(out.astype(np.float32))


def batches(lens: np.ndarray, utts: np.ndarray, max_frames: int) -> List[np.ndarray]:
    """Utterances sorted by length, cut into batches of at most ``max_frames`` padded frames."""
    order = utts[np.argsort(lens[utts], kind="stable")]
    out, cur = [], []
    for u in order.tolist():
        if cur and (len(cur) + 1) * lens[u] > max_frames:
            out.append(np.asarray(cur))
            cur = []
        cur.append(u)
    if cur:
        out.append(np.asarray(cur))
    return out


class ScratchSystem(torch.nn.Module):
    """TDNN-F up to ``layer`` + emotion head; frame log-probabilities."""

    def __init__(self, tdnnf: TdnnfConfig, layer: str, num_classes: int, dropout: float) -> None:
        super().__init__()
        self.layer = layer
        self.tdnnf = build_model(tdnnf, num_classes)
        self.tdnnf.check_layer(layer)
        self.head = EmotionHead(self.tdnnf.layer_dim(layer), num_classes, [], dropout)

    def forward(
        self, feats: torch.Tensor, ivectors: torch.Tensor, lens: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(log_probs (N, T_out, C), out_lens)``."""
        y, out_lens = self.tdnnf(feats, ivectors, lens, layer=self.layer)
        return self.head(y.reshape(-1, y.shape[-1])).reshape(*y.shape[:2], -1), out_lens


def _valid_frames(out_lens: torch.Tensor, t_out: int) -> torch.Tensor:
    return torch.arange(t_out, device=out_lens.device).unsqueeze(0) < out_lens.unsqueeze(1)


def _run(system: "ScratchSystem", inputs: FrameInputs, lens: np.ndarray, b: np.ndarray, device):
    """The system on the utterances ``b``, inputs moved to ``device``: (log-probs, valid mask)."""
    lp, out_lens = system(
        _pad([inputs.feats[u] for u in b]).to(device),
        _pad([inputs.ivectors[u] for u in b]).to(device),
        torch.from_numpy(lens[b]).to(device),
    )
    return lp, _valid_frames(out_lens, lp.shape[1])


@torch.no_grad()
def score(
    system: ScratchSystem,
    inputs: FrameInputs,
    utts: np.ndarray,
    max_frames: int,
    device: Union[str, torch.device] = "cpu",
) -> Dict[str, torch.Tensor]:
    """Summed-softmax decisions (and the other aggregations) for ``utts`` (in that order)."""
    system.eval()
    lens = np.asarray([len(f) for f in inputs.feats])
    pos = {u: j for j, u in enumerate(np.asarray(utts).tolist())}
    lp_rows, idx_rows = [], []
    for b in batches(lens, np.asarray(utts), max_frames):
        lp, mask = _run(system, inputs, lens, b, device)
        lp_rows.append(lp[mask].cpu())
        idx = torch.tensor([pos[u] for u in b.tolist()]).unsqueeze(1).expand_as(mask.cpu())
        idx_rows.append(idx[mask.cpu()])
    return aggregate(torch.cat(lp_rows), torch.cat(idx_rows), len(utts))


def train_fold(
    table: UttTable,
    inputs: FrameInputs,
    fold: Fold,
    tdnnf: TdnnfConfig,
    cfg: ScratchConfig,
    device: Union[str, torch.device] = "cpu",
) -> Tuple[ScratchSystem, Dict]:
    """Train on ``fold.train`` on ``device``, early-stop on ``fold.val``'s UA; returns the best
    system (on the CPU)."""
    seed = cfg.seed * 7919 + fold.fold
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    system = ScratchSystem(tdnnf, cfg.layer, len(table.classes), cfg.dropout)
    train_frames = np.concatenate([inputs.feats[u] for u in fold.train.tolist()])
    system.tdnnf.set_cmvn(
        torch.from_numpy(train_frames.mean(0)), torch.from_numpy(train_frames.std(0))
    )
    system.to(device)
    opt = torch.optim.Adam(system.parameters(), lr=cfg.lr)
    lens = np.asarray([len(f) for f in inputs.feats])
    labels = torch.from_numpy(table.labels).to(device)
    stopper = EarlyStopping(cfg.patience)
    step = 0
    train_batches = batches(lens, fold.train, cfg.batch_frames)
    for epoch in range(1, cfg.max_epochs + 1):
        system.train()
        total, count = 0.0, 0
        for j, bi in enumerate(rng.permutation(len(train_batches)).tolist()):
            b = train_batches[bi]
            system.tdnnf.set_dropout(((epoch - 1) + j / len(train_batches)) / cfg.max_epochs)
            lp, mask = _run(system, inputs, lens, b, device)
            target = labels[torch.from_numpy(b).to(device)].unsqueeze(1).expand_as(mask)
            loss = torch.nn.functional.nll_loss(lp[mask], target[mask])
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step % 4 == 0:
                system.tdnnf.constrain_orthonormal()
            total += float(loss) * int(mask.sum())
            count += int(mask.sum())
        pred = score(system, inputs, fold.val, cfg.batch_frames, device)["sum_softmax"].numpy()
        ua = summarize(table.labels[fold.val], pred, table.classes)["ua"]
        train_loss = total / max(count, 1)
        logging.info(
            "fold %d epoch %d: train loss %.4f, validation UA %.4f",
            fold.fold,
            epoch,
            train_loss,
            ua,
        )
        if stopper.update(epoch, train_loss, ua, system.state_dict):
            break
    if stopper.best_state is not None:
        system.load_state_dict(stopper.best_state)
    system.to("cpu")
    hist = {**stopper.history, "best_epoch": stopper.best_epoch, "val_speaker": fold.val_speaker}
    return system, hist


def run_folds(
    table: UttTable,
    inputs: FrameInputs,
    folds: Sequence[Fold],
    tdnnf: TdnnfConfig,
    cfg: ScratchConfig,
    device: Union[str, torch.device] = "cpu",
) -> Tuple[Dict[int, List[Dict]], Dict[int, Dict]]:
    """``({fold: prediction records}, {fold: training history})``; trained on ``device``."""
    recs: Dict[int, List[Dict]] = {}
    hists: Dict[int, Dict] = {}
    for fold in folds:
        t0 = time.time()
        system, hists[fold.fold] = train_fold(table, inputs, fold, tdnnf, cfg, device)
        pred = score(system, inputs, fold.test, cfg.batch_frames)["sum_softmax"].tolist()
        recs[fold.fold] = [
            {
                "id": table.ids[u],
                "speaker": table.speakers[u],
                "session": int(table.sessions[u]),
                "label": table.classes[int(table.labels[u])],
                "pred": table.classes[int(p)],
            }
            for u, p in zip(fold.test.tolist(), pred)
        ]
        logging.info("fold %d: trained from scratch in %.1f s", fold.fold, time.time() - t0)
    return recs, hists
