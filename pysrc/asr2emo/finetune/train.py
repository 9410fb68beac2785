"""Frozen network vs fine-tuning the top k TDNN-F layers with the head, on stage 8's folds.

k = 0 is the paper (and stage 8): the frozen network's layer output, stage 8's head training
(:func:`asr2emo.emotion.train.cross_validate`, same conf, same folds). For k > 0, per fold, the
k layers ending at the bottleneck layer and the head start from the pretrained network and that
fold's k = 0 head, and are trained together with frame-level cross-entropy (every output frame
labelled with its utterance's emotion), Adam with ``head_lr_factor`` times the head's
learning rate (emotion.conf) for the head and ``lr_factor`` times it for the network layers
(both small: the head is already trained), Kaldi's semi-orthogonal constraint every 4 steps,
batchnorm statistics and dropout of the network frozen (eval mode). Early stopping on
the validation speaker's summed-softmax UA; epoch 0 (the frozen solution) is a candidate, so a
fold where fine-tuning never helps on validation keeps the k = 0 head.

Outputs per k: ``<out>/k<k>/fold-<n>/{predictions.jsonl,history.json,.done}``, ``metrics.json``
in stage 8's schema; ``<out>/finetune.json`` and ``finetune.md``: the table over k.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np
import torch

from asr2emo.baselines.scratch import batches
from asr2emo.emotion.aggregate import aggregate
from asr2emo.emotion.data import FrameData
from asr2emo.emotion.folds import Fold, make_folds
from asr2emo.emotion.head import EmotionHead, load_head
from asr2emo.emotion.metrics import summarize
from asr2emo.emotion.train import (
    EarlyStopping,
    HeadConfig,
    _class_weights,
    cross_validate,
    metrics_from_predictions,
    prediction_records,
    read_predictions,
)
from asr2emo.finetune.data import UttInputs
from asr2emo.finetune.system import TrainableTop, bottom_outputs, layer_span
from asr2emo.model.tdnnf import TdnnfModel
from asr2emo.utils.io import atomic_path, write_json
from asr2emo.utils.markers import make_record, needs_run, write_marker


@dataclass
class FinetuneConfig:
    """``conf/finetune.conf``."""

    layer: str = "tdnnf12"
    ks: Sequence[int] = (0, 1, 2, 4)
    lr_factor: float = 0.1
    head_lr_factor: float = 0.1
    batch_frames: int = 2000  # output frames per minibatch (utterances bucketed by length)
    max_epochs: int = 10
    patience: int = 3
    orthonormal_every: int = 4


def _forward(top, head, bottoms, out_lens, b, device="cpu"):
    """Top layers + head on utterances ``b``, on ``device``: (frame log-probs, valid mask)."""
    lens = torch.from_numpy(out_lens[b]).to(device)
    y = top([bottoms[u].to(device) for u in b.tolist()], lens)
    mask = torch.arange(y.shape[1], device=lens.device).unsqueeze(0) < lens.unsqueeze(1)
    return head(y[mask]), mask


@torch.no_grad()
def score(top, head, bottoms, out_lens, utts: np.ndarray, max_frames: int, device="cpu"):
    """Every aggregation and the posteriors for ``utts`` (in that order)."""
    top.eval()
    head.eval()
    pos = {u: j for j, u in enumerate(np.asarray(utts).tolist())}
    lps, idx = [], []
    for b in batches(out_lens, np.asarray(utts), max_frames):
        lp, mask = _forward(top, head, bottoms, out_lens, b, device)
        lps.append(lp.cpu())
        mask = mask.cpu()
        idx.append(torch.tensor([pos[u] for u in b.tolist()]).unsqueeze(1).expand_as(mask)[mask])
    return aggregate(torch.cat(lps), torch.cat(idx), len(utts))


def finetune_fold(
    model: TdnnfModel,
    k: int,
    head0: EmotionHead,
    bottoms: List[torch.Tensor],
    data: FrameData,
    fold: Fold,
    head_cfg: HeadConfig,
    cfg: FinetuneConfig,
    device="cpu",
) -> tuple[TrainableTop, EmotionHead, Dict]:
    """Fine-tune the top ``k`` layers and the head on one fold on ``device``; the best
    validation state (on the CPU)."""
    seed = head_cfg.seed * 7919 + fold.fold + 1000 * k
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    top = TrainableTop(model, cfg.layer, k).to(device)
    head = copy.deepcopy(head0).to(device)
    out_lens = data.num_frames()
    labels = torch.from_numpy(data.labels).to(device)
    weights = _class_weights(
        torch.from_numpy(np.repeat(data.labels[fold.train], out_lens[fold.train])),
        len(data.classes),
        head_cfg.class_weight,
    )
    weights = None if weights is None else weights.to(device)
    opt = torch.optim.Adam(
        [
            {"params": head.parameters(), "lr": head_cfg.lr * cfg.head_lr_factor},
            {"params": top.parameters(), "lr": head_cfg.lr * cfg.lr_factor},
        ],
        weight_decay=head_cfg.weight_decay,
    )

    def val_ua() -> float:
        pred = score(top, head, bottoms, out_lens, fold.val, cfg.batch_frames, device)
        pred = pred["sum_softmax"]
        return summarize(data.labels[fold.val], pred.numpy(), data.classes)["ua"]

    def state():
        return top.state_dict(), head.state_dict()

    stopper = EarlyStopping(cfg.patience)
    stopper.start(val_ua(), state)
    step = 0
    train_batches = batches(out_lens, fold.train, cfg.batch_frames)
    for epoch in range(1, cfg.max_epochs + 1):
        top.eval()  # batchnorm statistics and network dropout stay as trained
        head.train()
        total, count = 0.0, 0
        for bi in rng.permutation(len(train_batches)).tolist():
            b = train_batches[bi]
            lp, mask = _forward(top, head, bottoms, out_lens, b, device)
            target = labels[torch.from_numpy(b).to(device)].unsqueeze(1).expand_as(mask)[mask]
            loss = torch.nn.functional.nll_loss(lp, target, weight=weights)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if cfg.orthonormal_every > 0 and step % cfg.orthonormal_every == 0:
                top.constrain_orthonormal()
            total += float(loss) * int(mask.sum())
            count += int(mask.sum())
        ua, train_loss = val_ua(), total / max(count, 1)
        logging.info(
            "k=%d fold %d epoch %d: train loss %.4f, validation UA %.4f",
            k,
            fold.fold,
            epoch,
            train_loss,
            ua,
        )
        if stopper.update(epoch, train_loss, ua, state):
            break
    top.load_state_dict(stopper.best_state[0])
    head.load_state_dict(stopper.best_state[1])
    return top.cpu(), head.cpu(), {**stopper.history, "best_epoch": stopper.best_epoch}


def frozen_frames(model: TdnnfModel, inputs: UttInputs, layer: str) -> FrameData:
    """The frozen layer output of every utterance as stage 8's :class:`FrameData`."""
    first = layer_span(model, layer, 0)[0]
    top = TrainableTop(model, layer, 0)
    bottoms = bottom_outputs(model, inputs.feats, inputs.ivectors, first)
    out_lens = np.asarray([model.num_output_frames(len(f)) for f in inputs.feats])
    with torch.no_grad():
        rows = [top([b], torch.tensor([n]))[0] for b, n in zip(bottoms, out_lens.tolist())]
    return FrameData(
        feats=torch.cat(rows),
        offsets=np.concatenate([[0], np.cumsum(out_lens)]).astype(np.int64),
        ids=inputs.ids,
        speakers=inputs.speakers,
        sessions=inputs.sessions,
        labels=inputs.labels,
        classes=inputs.classes,
    )


def run_k(
    model: TdnnfModel,
    inputs: UttInputs,
    data: FrameData,
    k: int,
    out_dir: Path,
    head_cfg: HeadConfig,
    cfg: FinetuneConfig,
    record: Optional[Mapping] = None,
    device="cpu",
) -> Dict:
    """Cross-validation of one k > 0 (fold heads of k = 0 under ``out_dir/k0``); ``record`` is
    the marker of its folds and of ``k<k>/`` (default: the settings, no inputs)."""
    kdir = out_dir / f"k{k}"
    if record is None:
        record = k_record(head_cfg, cfg, k, {"k0": out_dir / "k0"})
    folds = make_folds(data.sessions, data.speakers, head_cfg.seed)
    first = layer_span(model, cfg.layer, k)[0]
    bottoms = None
    preds, best_epochs = {}, []
    for fold in folds:
        fold_dir = kdir / f"fold-{fold.fold}"
        if needs_run(fold_dir, record, f"k={k} fold {fold.fold}"):
            if bottoms is None:
                bottoms = bottom_outputs(model, inputs.feats, inputs.ivectors, first)
            t0 = time.time()
            head0, _ = load_head(out_dir / "k0" / f"fold-{fold.fold}" / "head.pt")
            top, head, hist = finetune_fold(
                model, k, head0, bottoms, data, fold, head_cfg, cfg, device
            )
            scored = score(top, head, bottoms, data.num_frames(), fold.test, cfg.batch_frames)
            fold_dir.mkdir(parents=True, exist_ok=True)
            with atomic_path(fold_dir / "predictions.jsonl") as tmp:
                recs = prediction_records(data, fold.test, scored)
                tmp.write_text("".join(json.dumps(r) + "\n" for r in recs))
            hist.update(
                val_speaker=fold.val_speaker,
                test_session=fold.test_session,
                num_train_utts=len(fold.train),
                seconds=round(time.time() - t0, 1),
            )
            write_json(fold_dir / "history.json", hist)
            write_marker(fold_dir, record)
        preds[fold.fold] = read_predictions(fold_dir / "predictions.jsonl")
        best_epochs.append(json.loads((fold_dir / "history.json").read_text())["best_epoch"])
    metrics = metrics_from_predictions(cfg.layer, preds, data.classes)
    metrics.update(
        best_epochs=best_epochs,
        num_utts=data.num_utts,
        num_frames=int(data.offsets[-1]),
        config={**asdict(head_cfg), "finetune": {**asdict(cfg), "ks": list(cfg.ks), "k": k}},
    )
    write_json(kdir / "metrics.json", metrics)
    write_marker(kdir, record)
    return metrics


def k_record(
    head_cfg: HeadConfig, cfg: FinetuneConfig, k: int, sources: Mapping[str, Path]
) -> Dict:
    """Marker record of the fine-tuning of the top ``k`` layers."""
    settings = dict(asdict(head_cfg), finetune=dict(asdict(cfg), ks=None), k=k)
    return make_record("finetune-emotion", settings, sources)


def finetune_table(model: TdnnfModel, cfg: FinetuneConfig, results: Dict[int, Dict]) -> Dict:
    rows = []
    for k in sorted(results):
        m = results[k]
        top = TrainableTop(model, cfg.layer, k)
        s5 = [f["ua"] for f in m["folds"] if f["test_session"] == 5]
        rows.append(
            {
                "k": k,
                "layers": top.names,
                "num_trained_params": top.num_params(),
                "ua_fold_mean": m["ua_fold_mean"],
                "wa_fold_mean": m["wa_fold_mean"],
                "ua_pooled": m["ua"],
                "ua_session5": s5[0] if s5 else None,
                "fold_ua": [f["ua"] for f in m["folds"]],
                "best_epochs": m.get("best_epochs"),
            }
        )
    return {
        "layer": cfg.layer,
        "lr_factor": cfg.lr_factor,
        "head_lr_factor": cfg.head_lr_factor,
        "rows": rows,
    }


def run_finetune(
    model: TdnnfModel,
    inputs: UttInputs,
    out_dir: Path,
    head_cfg: HeadConfig,
    cfg: FinetuneConfig,
    sources: Optional[Mapping[str, Path]] = None,
    device="cpu",
) -> Dict:
    """Every k of ``cfg.ks`` (k = 0 always run first: its fold heads start the others).

    ``sources`` (e.g. the model checkpoint and the cuts) go into every marker record, so a new
    model or new cuts recompute every k; so does a changed setting.
    """
    from asr2emo.emotion.train import cv_record
    from asr2emo.report.sweep import finetune_markdown

    out_dir = Path(out_dir)
    for k in cfg.ks:
        layer_span(model, cfg.layer, k)  # validate every k before any work
    data = frozen_frames(model, inputs, cfg.layer)
    results: Dict[int, Dict] = {}
    sources = dict(sources or {})
    rec0 = cv_record(head_cfg, sources, layer=cfg.layer, classes=list(inputs.classes))
    if needs_run(out_dir / "k0", rec0, f"k=0 ({out_dir / 'k0'})"):
        results[0] = cross_validate(data, cfg.layer, out_dir / "k0", head_cfg, str(device), rec0)
    else:
        results[0] = json.loads((out_dir / "k0" / "metrics.json").read_text())
    for k in sorted(set(cfg.ks) - {0}):
        rec = k_record(head_cfg, cfg, k, dict(sources, k0=out_dir / "k0"))
        if not needs_run(out_dir / f"k{k}", rec, f"k={k} ({out_dir / f'k{k}'})"):
            results[k] = json.loads((out_dir / f"k{k}" / "metrics.json").read_text())
            continue
        t0 = time.time()
        results[k] = run_k(model, inputs, data, k, out_dir, head_cfg, cfg, rec, device)
        logging.info(
            "k=%d: UA %.4f (fold mean %.4f) in %.1f s",
            k,
            results[k]["ua"],
            results[k]["ua_fold_mean"],
            time.time() - t0,
        )
    table = finetune_table(model, cfg, {k: results[k] for k in sorted(set(cfg.ks) | {0})})
    if 0 not in cfg.ks:
        table["rows"] = [r for r in table["rows"] if r["k"] in cfg.ks]
    write_json(out_dir / "finetune.json", table)
    with atomic_path(out_dir / "finetune.md") as tmp:
        tmp.write_text("\n".join([f"# Fine-tuning ({cfg.layer})", ""] + finetune_markdown(table)))
    return table
