"""LF-MMI training loop of the TDNN-F (stage 4): resumable, DDP-capable, logged.

icefall ``train.py`` anatomy: :func:`compute_loss`, :func:`compute_validation_loss`,
:func:`train_one_epoch`, :func:`run` (one process of a torchrun group). Choices:

- Whole utterances batched by duration (see :mod:`asr2emo.model.dataset` for why not chunks).
- Adam; the learning rate decays exponentially with the fraction of training data seen, from
  ``--initial-lr`` to ``--final-lr`` (Kaldi's initial/final effective lrate schedule, per step).
  The dropout schedule is evaluated on the same fraction.
- Semi-orthogonal constraint every ``--orthonormal-every`` steps (Kaldi: every 4 on average).
- Checkpoints (model, optimizer, schedule position, sampler state, RNG, epoch, batch index)
  every ``--save-every-n`` steps and at each epoch end; a rerun resumes from ``last_checkpoint``.
- ``final.pt`` = average of the last ``--average-n`` epoch checkpoints.
- Multi-process: run under ``torchrun``; gloo on CPU, nccl on CUDA; only rank 0 writes.
"""

from __future__ import annotations

import argparse
import copy
import csv
import inspect
import logging
import math
import os
import random
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.distributed as dist
from lhotse import CutSet
from tqdm import tqdm

from asr2emo.model.checkpoint import (
    latest_checkpoint,
    remove_old_step_checkpoints,
    rng_state,
    save_checkpoint,
    set_rng_state,
    write_final,
)
from asr2emo.model.dataset import AsrDataset, cmvn_from_cuts, make_sampler
from asr2emo.model.specaug import MfccSpecAugment, add_spec_augment_args, spec_augment_config
from asr2emo.model.tdnnf import (
    TdnnfConfig,
    TdnnfModel,
    build_model,
    config_to_dict,
    read_model_config,
)
from asr2emo.utils.config import positive_float, positive_int, str2bool
from asr2emo.utils.devices import check_device
from asr2emo.utils.errors import UserError
from asr2emo.utils.markers import config_of, make_record, needs_run, read_marker, write_marker

LOSS_KEYS = ("den_scale", "ctc_weight", "l2_regularize", "output_beam")


def add_training_args(p: argparse.ArgumentParser) -> None:
    """Training keys of ``conf/lfmmi.conf`` (the loss keys belong to :mod:`asr2emo.lfmmi`)."""
    p.add_argument("--num-epochs", type=positive_int, default=6)
    p.add_argument(
        "--max-duration", type=positive_float, default=300.0, help="seconds of audio per batch"
    )
    p.add_argument("--bucketing", type=str2bool, default=True, help="DynamicBucketingSampler")
    p.add_argument("--num-buckets", type=int, default=10)
    p.add_argument("--shuffle", type=str2bool, default=True)
    p.add_argument(
        "--initial-lr", type=positive_float, default=1e-3, help="Adam learning rate at start"
    )
    p.add_argument(
        "--final-lr", type=positive_float, default=1e-4, help="... at the end (exponential decay)"
    )
    p.add_argument("--max-grad-norm", type=float, default=5.0, help="0 disables clipping")
    p.add_argument("--orthonormal-every", type=int, default=4, help="steps between constraints")
    p.add_argument(
        "--save-every-n", type=positive_int, default=200, help="checkpoint every N steps"
    )
    p.add_argument("--keep-last-k", type=int, default=2, help="checkpoint-S.pt files kept")
    p.add_argument(
        "--average-n", type=positive_int, default=2, help="epochs averaged into final.pt"
    )
    p.add_argument("--log-interval", type=int, default=10, help="steps between loss log lines")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--max-steps", type=int, default=0, help="stop after this global step (0: no limit)"
    )
    p.add_argument(
        "--cmvn", default="", help="CMVN json (default: *_cmvn.json next to the train cuts)"
    )
    p.add_argument(
        "--require-ivectors",
        type=str2bool,
        default=True,
        help="false: cuts without an 'ivector' array get zeros (tests only)",
    )
    p.add_argument(
        "--ivector-extractor-dir",
        default="",
        help="recorded in the model so inference finds the matching extractor",
    )
    p.add_argument(
        "--loss",
        choices=["lfmmi", "ctc"],
        default="lfmmi",
        help="lfmmi (asr2emo.lfmmi) or plain phone CTC (baseline)",
    )
    # Loss keys, forwarded to LfMmiLoss (owned by asr2emo.lfmmi; None = its default).
    p.add_argument("--den-scale", type=float, default=None)
    p.add_argument("--ctc-weight", type=float, default=None)
    p.add_argument("--l2-regularize", type=float, default=None)
    p.add_argument("--output-beam", type=float, default=None)
    add_spec_augment_args(p)


# ----------------------------------------------------------------------------- set-up helpers
def build_loss(args: argparse.Namespace, device: torch.device):
    """``(loss_fn, num_outputs)`` for the lang directory; loss_fn(log_probs, segs, texts)."""
    from asr2emo.lang.prepare import read_lang_info

    info = read_lang_info(args.lang_dir)
    num_outputs = int(info["num_outputs"])
    if args.loss == "ctc":
        from asr2emo.model.ctc import CtcLoss

        return CtcLoss(args.lang_dir, device), num_outputs
    try:
        from asr2emo.lfmmi.graph_compiler import MmiGraphCompiler
        from asr2emo.lfmmi.loss import LfMmiLoss
    except ImportError as e:
        raise UserError(f"LF-MMI loss not available ({e}); use --loss=ctc")
    compiler = MmiGraphCompiler(args.lang_dir, device=device)
    wanted = inspect.signature(LfMmiLoss.__init__).parameters
    kwargs = {
        k: getattr(args, k) for k in LOSS_KEYS if getattr(args, k) is not None and k in wanted
    }
    return LfMmiLoss(compiler, **kwargs), num_outputs


def default_cmvn_path(train_cuts: str) -> Optional[Path]:
    """``<corpus>_cmvn.json`` beside ``<corpus>_cuts_<part>...jsonl.gz`` (features stage naming)."""
    train = Path(train_cuts)
    candidate = train.parent / f"{train.name.split('_cuts')[0]}_cmvn.json"
    return candidate if candidate.is_file() else None


def find_cmvn(args: argparse.Namespace, train_cuts: CutSet) -> Dict[str, List[float]]:
    """CMVN stats: ``--cmvn``, else ``<corpus>_cmvn.json`` beside the train cuts, else estimated."""
    from asr2emo.features.cmvn import GlobalCmvn

    path: Optional[Path] = Path(args.cmvn) if args.cmvn else default_cmvn_path(args.train_cuts)
    if path is not None:
        if not path.is_file():
            raise UserError(f"--cmvn '{path}' does not exist")
        c = GlobalCmvn.load(path)
        logging.info(f"CMVN from {path}")
        return {"mean": c.mean.tolist(), "std": c.std.tolist(), "source": str(path)}
    logging.info("no <corpus>_cmvn.json next to the train cuts; estimating CMVN on training cuts")
    return cmvn_from_cuts(train_cuts)


def supervision_segments(out_lens: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """``[seq_idx, 0, num_frames]`` rows sorted by num_frames (desc) and the sort order."""
    order = torch.argsort(out_lens, descending=True, stable=True)
    segs = torch.stack([order, torch.zeros_like(order), out_lens[order]], dim=1).to(torch.int32)
    return segs, order


def compute_loss(
    model, loss_fn, batch: Dict, device: torch.device
) -> Tuple[torch.Tensor, int, Dict]:
    """Summed loss of a batch, its number of output frames, and the loss's info."""
    feats = batch["feats"].to(device)
    ivecs = batch["ivectors"].to(device)
    lens = batch["feat_lens"].to(device)
    log_probs, out_lens = model(feats, ivecs, lens)
    segs, order = supervision_segments(out_lens.cpu())
    texts = [batch["texts"][i] for i in order.tolist()]
    loss, info = loss_fn(log_probs, segs, texts)
    # Sequences the loss had to leave out (empty numerator) do not count as frames.
    frames = int(info["frames"]) if "frames" in info else int(out_lens.sum())
    return loss, frames, info


def compute_validation_loss(model, loss_fn, dataset, sampler, device) -> float:
    """Per-frame loss over the validation cuts (eval mode, no dropout)."""
    was_training = model.training
    model.eval()
    tot, frames = 0.0, 0
    with torch.no_grad():
        for cuts in sampler:
            loss, n, _ = compute_loss(model, loss_fn, dataset[cuts], device)
            tot += float(loss)
            frames += n
    model.train(was_training)
    if dist.is_initialized():
        tot, frames = all_reduce_sum([tot, float(frames)], device)
    return tot / max(frames, 1)


def all_reduce_sum(values: Sequence[float], device: torch.device) -> List[float]:
    """``values`` summed over all ranks. The tensor lives on the model's ``device``: NCCL (the
    CUDA backend) reduces CUDA tensors only, gloo CPU ones."""
    t = torch.tensor(list(values), dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.cpu().tolist()


class LossLog:
    """``loss.csv`` rows (step, epoch, progress, lr, train/valid loss per frame) and loss.png."""

    FIELDS = ["step", "epoch", "progress", "lr", "train_loss", "valid_loss", "frames_per_s"]

    def __init__(self, exp_dir: Path, enabled: bool) -> None:
        self.path = exp_dir / "loss.csv"
        self.png = exp_dir / "loss.png"
        self.enabled = enabled
        if enabled and not self.path.is_file():
            with open(self.path, "w", newline="") as f:
                csv.writer(f).writerow(self.FIELDS)

    def add(self, **row: Any) -> None:
        if not self.enabled:
            return
        with open(self.path, "a", newline="") as f:
            csv.writer(f).writerow([row.get(k, "") for k in self.FIELDS])

    def truncate_after(self, step: int) -> None:
        """Drop rows past ``step`` (written after the checkpoint we resume from)."""
        if not self.enabled or not self.path.is_file():
            return
        with open(self.path) as f:
            rows = list(csv.DictReader(f))
        with open(self.path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self.FIELDS)
            w.writeheader()
            w.writerows(r for r in rows if int(r["step"]) <= step)

    def plot(self) -> None:
        if not self.enabled:
            return
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        with open(self.path) as f:
            rows = list(csv.DictReader(f))
        tr = [(int(r["step"]), float(r["train_loss"])) for r in rows if r["train_loss"]]
        va = [(int(r["step"]), float(r["valid_loss"])) for r in rows if r["valid_loss"]]
        fig, ax = plt.subplots(figsize=(6, 4))
        if tr:
            ax.plot(*zip(*tr), label="train")
        if va:
            ax.plot(*zip(*va), "o-", label="valid")
        ax.set_xlabel("step")
        ax.set_ylabel("loss per frame")
        ax.set_title("TDNN-F training")
        ax.legend()
        fig.tight_layout()
        fig.savefig(self.png)
        plt.close(fig)


# Settings that do not change the trained model: where and how often it logs and checkpoints,
# and where a bounded run stops (a larger --max-steps continues the same training).
NOT_MODEL_SETTINGS = (
    "train_cuts",
    "valid_cuts",
    "lang_dir",
    "exp_dir",
    "model_config",
    "cmvn",
    "ivector_extractor_dir",
    "log_interval",
    "save_every_n",
    "keep_last_k",
    "max_steps",
)
STARTED = ".started"  # the record of the training whose checkpoints are in the directory


def training_record(args: argparse.Namespace, config: TdnnfConfig) -> Dict[str, Any]:
    """What the trained model depends on: topology, training settings, cuts, lang, CMVN."""
    settings = config_of(args, exclude=NOT_MODEL_SETTINGS)
    settings["model"] = config_to_dict(config)
    inputs = {"train_cuts": args.train_cuts, "valid_cuts": args.valid_cuts, "lang": args.lang_dir}
    cmvn = Path(args.cmvn) if args.cmvn else default_cmvn_path(args.train_cuts)
    if cmvn is not None:
        inputs["cmvn"] = cmvn
    return make_record("train-lfmmi", settings, inputs)


def clear_other_training(exp_dir: Path, record: Dict[str, Any]) -> None:
    """Remove checkpoints of a training with other settings or inputs, saying why."""
    from asr2emo.utils.markers import stale_reason

    if read_marker(exp_dir, STARTED) is None and not (exp_dir / "last_checkpoint").exists():
        return
    reason = stale_reason(exp_dir, record, STARTED)
    if reason is None:
        return
    logging.info(f"{exp_dir}: its checkpoints are of another training ({reason}); starting over")
    for p in exp_dir.iterdir():
        if p.name in ("final.pt", "last_checkpoint", "loss.csv", "loss.png", ".done") or (
            p.suffix == ".pt" and p.name.startswith(("epoch-", "checkpoint-"))
        ):
            p.unlink()


# ----------------------------------------------------------------------------- the run
def setup_distributed(device_arg: str) -> Tuple[int, int, torch.device]:
    """rank, world size and device of this process (torchrun env vars; none = 1 process)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = check_device(device_arg)
    if world_size > 1:
        if device.type == "cuda":  # one GPU per process: this rank's local one
            device = check_device(f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}")
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return rank, world_size, device


def run(args: argparse.Namespace) -> int:
    """Train (or resume) into ``args.exp_dir``; returns 0."""
    exp_dir = Path(args.exp_dir)
    for p in (args.train_cuts, args.valid_cuts):
        if not Path(p).is_file():
            raise UserError(f"cuts '{p}' do not exist; run the feature stages first")
    config = read_model_config(args.model_config)
    record = training_record(args, config)
    if not needs_run(exp_dir, record, f"LF-MMI model {exp_dir}"):
        return 0
    torch.set_num_threads(1)
    rank, world_size, device = setup_distributed(args.device)
    is_main = rank == 0
    if is_main:
        clear_other_training(exp_dir, record)
        write_marker(exp_dir, record, STARTED)
    if world_size > 1:
        dist.barrier()
    # SpecAugment draws from Python's and numpy's generators (lhotse), dropout from torch's.
    torch.manual_seed(args.seed + rank)
    random.seed(args.seed + rank)
    np.random.seed(args.seed + rank)

    loss_fn, num_outputs = build_loss(args, device)
    train_cuts = CutSet.from_file(args.train_cuts)
    valid_cuts = CutSet.from_file(args.valid_cuts)
    model = build_model(config, num_outputs)
    ckpt_path = latest_checkpoint(exp_dir)
    ckpt: Optional[Dict[str, Any]] = None
    if ckpt_path is not None:
        ckpt = torch.load(ckpt_path, map_location="cpu")
        model.load_state_dict(ckpt["model"])
        cmvn = ckpt["cmvn"]
        logging.info(f"resuming from {ckpt_path} (epoch {ckpt['epoch']}, step {ckpt['step']})")
    else:
        cmvn = find_cmvn(args, train_cuts)
        model.set_cmvn(torch.tensor(cmvn["mean"]), torch.tensor(cmvn["std"]))
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.initial_lr)
    if ckpt is not None:
        optimizer.load_state_dict(ckpt["optimizer"])
    ddp_model = model
    if world_size > 1:
        ddp_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )

    dataset = AsrDataset(config.ivector_dim, config.ivector_period, args.require_ivectors)
    augment = None
    aug_config = spec_augment_config(args)
    if aug_config.enabled:
        # Hires MFCC: num_ceps == num_mel_bins == feat_dim, Kaldi's lifter 22.
        augment = MfccSpecAugment(aug_config, config.feat_dim, config.feat_dim)
        logging.info(f"SpecAugment (log-mel domain): {aug_config}")
    ws = world_size if world_size > 1 else None
    rk = rank if world_size > 1 else None
    sampler = make_sampler(
        train_cuts,
        args.max_duration,
        args.shuffle,
        args.bucketing,
        args.num_buckets,
        args.seed,
        ws,
        rk,
    )
    valid_sampler = make_sampler(valid_cuts, args.max_duration, False, False, 1, args.seed, ws, rk)
    total_duration = sum(c.duration for c in train_cuts) * args.num_epochs
    if total_duration <= 0:
        raise UserError(f"{args.train_cuts}: no training audio")

    meta = {
        "model_config": config_to_dict(config),
        "num_outputs": num_outputs,
        "cmvn": cmvn,
        "ivector": {
            "dim": config.ivector_dim,
            "period": config.ivector_period,
            "frame_shift": 0.01 * config.ivector_period,
            "required": bool(args.require_ivectors),  # False: trained on zeros, none needed
            "extractor_dir": (
                str(Path(args.ivector_extractor_dir).resolve())
                if args.ivector_extractor_dir
                else ""
            ),
        },
        "lang_dir": str(Path(args.lang_dir).resolve()),
        "loss": args.loss,
        "train_args": {k: v for k, v in vars(args).items() if k not in ("config",)},
    }
    state = {"epoch": 1, "batch_in_epoch": 0, "step": 0, "consumed": 0.0}
    if ckpt is not None:
        state = {k: ckpt[k] for k in state}
        if ckpt.get("epoch_finished", False):
            state["epoch"] += 1
            state["batch_in_epoch"] = 0
        else:
            sampler.load_state_dict(copy.deepcopy(ckpt["sampler"]))
        # Each rank's own generators (dropout, SpecAugment masks) when the checkpoint has them
        # for this many ranks; older checkpoints hold rank 0's only.
        rngs = ckpt.get("rng_ranks") or []
        if len(rngs) == world_size:
            set_rng_state(rngs[rank], device)
        elif ckpt.get("rng") is not None and is_main:
            set_rng_state(ckpt["rng"], device)
    log = LossLog(exp_dir, is_main)
    log.truncate_after(state["step"])
    if is_main:
        logging.info(
            f"training {model.num_params():,} parameters on {device} x{world_size}, "
            f"{args.num_epochs} epochs, loss {args.loss}"
        )

    def save(name: str, epoch_finished: bool) -> None:
        # Called at the same step on every rank: gather all ranks' generator states.
        rngs: List[Any] = [rng_state(device)]
        if world_size > 1:
            rngs = [None] * world_size
            dist.all_gather_object(rngs, rng_state(device))
        if not is_main:
            return
        full = dict(meta)
        full.update(
            model=model.state_dict(),
            optimizer=optimizer.state_dict(),
            sampler=None if epoch_finished else sampler.state_dict(),
            rng=rngs[0],
            rng_ranks=rngs,
            epoch_finished=epoch_finished,
            **state,
        )
        save_checkpoint(exp_dir / name, full, exp_dir)

    stopped = False
    for epoch in range(state["epoch"], args.num_epochs + 1):
        state["epoch"] = epoch
        if state["batch_in_epoch"] == 0:
            sampler.set_epoch(epoch)
        stopped = train_one_epoch(
            args,
            ddp_model,
            model,
            loss_fn,
            dataset,
            sampler,
            optimizer,
            state,
            total_duration,
            world_size,
            device,
            log,
            save,
            is_main,
            augment,
        )
        if stopped:
            break
        valid = compute_validation_loss(model, loss_fn, dataset, valid_sampler, device)
        if is_main:
            logging.info(f"epoch {epoch}: valid loss {valid:.4f} per frame")
            log.add(step=state["step"], epoch=epoch, valid_loss=f"{valid:.5f}")
            log.plot()
        state["batch_in_epoch"] = 0
        save(f"epoch-{epoch}.pt", epoch_finished=True)
    if world_size > 1:
        dist.barrier()
    if is_main:
        log.plot()
        if not stopped:
            write_final(exp_dir, args.average_n)
            write_marker(exp_dir, record)
    if world_size > 1:
        dist.destroy_process_group()
    return 0


def train_one_epoch(
    args,
    ddp_model,
    model: TdnnfModel,
    loss_fn,
    dataset,
    sampler,
    optimizer,
    state: Dict,
    total_duration: float,
    world_size: int,
    device,
    log: LossLog,
    save,
    is_main: bool,
    augment: Optional[MfccSpecAugment] = None,
) -> bool:
    """One pass over the sampler (from where it stands); True when --max-steps stopped it."""
    model.train()
    ratio = args.final_lr / args.initial_lr
    tot_loss, tot_frames, t_start, win_frames = 0.0, 0, time.time(), 0
    lr, fps, failed = optimizer.param_groups[0]["lr"], 0.0, 0
    if args.max_steps and state["step"] >= args.max_steps:
        return True
    bar = tqdm(
        desc=f"epoch {state['epoch']}",
        disable=not is_main,
        initial=state["batch_in_epoch"],
        unit="batch",
        dynamic_ncols=True,
    )
    for cuts in sampler:
        progress = min(state["consumed"] / total_duration, 1.0)
        lr = args.initial_lr * ratio**progress
        for g in optimizer.param_groups:
            g["lr"] = lr
        model.set_dropout(progress)
        batch = dataset[cuts]
        if augment is not None:
            batch["feats"] = augment(batch["feats"], batch["feat_lens"])
        loss, frames, info = compute_loss(ddp_model, loss_fn, batch, device)
        failed += int(info.get("num_failed", 0))
        optimizer.zero_grad()
        (loss / max(frames, 1)).backward()
        if args.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
        optimizer.step()
        state["step"] += 1
        state["batch_in_epoch"] += 1
        state["consumed"] += sum(c.duration for c in cuts) * world_size
        if args.orthonormal_every > 0 and state["step"] % args.orthonormal_every == 0:
            model.constrain_orthonormal()
        value = float(loss.detach()) / max(frames, 1)
        if not math.isfinite(value):
            raise RuntimeError(f"non-finite loss at step {state['step']} (cuts {batch['cut_ids']})")
        tot_loss += float(loss.detach())
        tot_frames += frames
        win_frames += int(batch["feat_lens"].sum())
        fps = win_frames * world_size / max(time.time() - t_start, 1e-6)
        bar.update(1)
        bar.set_postfix(loss=f"{value:.4f}", lr=f"{lr:.2e}", fps=f"{fps:.0f}")
        if is_main and state["step"] % args.log_interval == 0:
            logging.info(
                f"epoch {state['epoch']} step {state['step']}: loss "
                f"{tot_loss / max(tot_frames, 1):.4f} per frame, lr {lr:.3e}, "
                f"{fps:.0f} input frames/s"
                + (f", {failed} sequences left out (empty numerator)" if failed else "")
            )
            log.add(
                step=state["step"],
                epoch=state["epoch"],
                progress=f"{progress:.4f}",
                lr=f"{lr:.3e}",
                train_loss=f"{tot_loss / max(tot_frames, 1):.5f}",
                frames_per_s=f"{fps:.0f}",
            )
            tot_loss, tot_frames = 0.0, 0
        if args.save_every_n > 0 and state["step"] % args.save_every_n == 0:
            save(f"checkpoint-{state['step']}.pt", epoch_finished=False)
            if is_main:
                remove_old_step_checkpoints(args.exp_dir, args.keep_last_k)
        if args.max_steps and state["step"] >= args.max_steps:
            bar.close()
            save(f"checkpoint-{state['step']}.pt", epoch_finished=False)
            logging.info(f"stopping at step {state['step']} (--max-steps)")
            return True
    bar.close()
    if is_main and tot_frames:
        log.add(
            step=state["step"],
            epoch=state["epoch"],
            lr=f"{lr:.3e}",
            train_loss=f"{tot_loss / tot_frames:.5f}",
            frames_per_s=f"{fps:.0f}",
        )
    return False
