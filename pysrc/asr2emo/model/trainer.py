"""LF-MMI training loop of the TDNN-F (stage 4): resumable, DDP-capable, logged.

icefall ``train.py`` anatomy: ``params`` (the conf values plus what the run derives: device,
ranks, the schedule's total), :func:`compute_loss`, :func:`compute_validation_loss`,
:func:`train_one_epoch` ``(params, model, optimizer, loss_fn, train_dl, log, augment)``,
:func:`load_checkpoint_if_available` / :func:`save_training_checkpoint` (they take the objects),
:func:`run` (one process of a torchrun group). Batches are built by a ``DataLoader`` around the
lhotse sampler (``--num-workers`` processes; 0 builds them on the training thread). Choices:

- Whole utterances batched by duration (see :mod:`asr2emo.model.dataset` for why not chunks).
- Adam; the learning rate decays exponentially with the fraction of training data seen, from
  ``--initial-lr`` to ``--final-lr`` (Kaldi's initial/final effective lrate schedule, per step).
  The dropout schedule is evaluated on the same fraction.
- Semi-orthogonal constraint every ``--orthonormal-every`` steps (Kaldi: every 4 on average).
- Kaldi tdnn_1g's regularizers: ``--xent-regularize`` (the ``output-xent`` branch, trained on
  the numerator posteriors, its affine in an optimizer group at lr factor 0.5: Kaldi's
  effective rate, which is what its ``0.5 / xent_regularize`` under SGD amounts to) and the
  per-layer ``--l2-*`` penalties (:mod:`asr2emo.model.l2`).
- ``--cycle-frame-shift``: minibatch ``step`` on rank ``r`` puts its output frames at input
  frames ``(step + r) % f + f * j`` (Kaldi's ``train.py`` gives each job and iteration its own
  ``nnet3-chain-copy-egs --frame-shift``); validation, decoding and extraction use phase 0.
- Checkpoints (model, optimizer, schedule position, RNG, epoch, batch index) every
  ``--save-every-n`` steps and at each epoch end; a rerun resumes from ``last_checkpoint``. The
  sampler is not saved: its batches are a function of the seed and the epoch, so a resumed
  epoch replays its sampler and skips the batches already trained on (exact, also with
  DataLoader workers prefetching ahead).
- ``final.pt`` = average of the last ``--average-n`` epoch checkpoints, its batchnorm
  statistics then recomputed on ``--recompute-stats-batches`` training minibatches (Kaldi's
  ``RecomputeStats`` after ``nnet3-chain-combine``; :mod:`asr2emo.model.batchnorm_stats`).
- Multi-process: run under ``torchrun``; gloo on CPU, nccl on CUDA; only rank 0 writes.
"""

from __future__ import annotations

import argparse
import csv
import itertools
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
from asr2emo.model.dataset import AsrDataset, SkipBatches, cmvn_from_cuts, make_sampler
from asr2emo.model.l2 import LayerL2Config, l2_penalty
from asr2emo.model.specaug import MfccSpecAugment, add_spec_augment_args, spec_augment_config
from asr2emo.model.tdnnf import (
    TdnnfConfig,
    TdnnfModel,
    build_model,
    config_to_dict,
    read_model_config,
)
from asr2emo.model.xent import OUTPUT as XENT_OUTPUT
from asr2emo.model.xent import xent_output_lr_factor
from asr2emo.utils.config import (
    add_dataclass_args,
    dataclass_from_args,
    nonneg_int,
    positive_float,
    positive_int,
    str2bool,
)
from asr2emo.utils.devices import check_device
from asr2emo.utils.errors import UserError
from asr2emo.utils.markers import config_of, make_record, needs_run, read_marker, write_marker

LOSS_KEYS = ("den_scale", "ctc_weight", "l2_regularize", "output_beam")


class AttributeDict(dict):
    """icefall's ``params``: a dict whose keys read and write as attributes."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value


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
        "--cycle-frame-shift",
        type=str2bool,
        default=False,
        help="shift the subsampling phase of each minibatch by (step + rank) %% factor input "
        "frames (Kaldi --frame-shift); false: always phase 0",
    )
    p.add_argument(
        "--save-every-n", type=positive_int, default=200, help="checkpoint every N steps"
    )
    p.add_argument("--keep-last-k", type=int, default=2, help="checkpoint-S.pt files kept")
    p.add_argument(
        "--average-n", type=positive_int, default=2, help="epochs averaged into final.pt"
    )
    p.add_argument(
        "--recompute-stats-batches",
        type=nonneg_int,
        default=0,
        help="training minibatches on which final.pt's batchnorm statistics are recomputed "
        "after averaging (Kaldi RecomputeStats); 0: keep the averaged ones",
    )
    p.add_argument("--log-interval", type=int, default=10, help="steps between loss log lines")
    p.add_argument(
        "--num-workers",
        type=int,
        default=0,
        help="DataLoader processes building batches (0: on the training thread)",
    )
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
    p.add_argument(
        "--topology",
        choices=["ctc", "chain"],
        default=None,
        help="output units: ctc (phones + blank) or chain (biphone pdfs); must be the lang "
        "directory's (stage 1 --topology); default: the lang's",
    )
    # Loss keys, forwarded to LfMmiLoss (owned by asr2emo.lfmmi; None = its default).
    p.add_argument("--den-scale", type=float, default=None)
    p.add_argument("--ctc-weight", type=float, default=None)
    p.add_argument("--l2-regularize", type=float, default=None)
    p.add_argument("--output-beam", type=float, default=None)
    p.add_argument(
        "--leaky-hmm-coefficient",
        type=float,
        default=None,
        help="Kaldi's leaky HMM in the denominator (tdnn_1g: 0.1); unset: none",
    )
    p.add_argument(
        "--xent-regularize",
        type=float,
        default=None,
        help="weight of the output-xent branch's cross-entropy against the numerator "
        "posteriors (Kaldi --chain.xent-regularize; tdnn_1g: 0.1); unset or 0: no branch",
    )
    add_dataclass_args(p, LayerL2Config)
    add_spec_augment_args(p)


# ----------------------------------------------------------------------------- set-up helpers
def build_loss(args: argparse.Namespace, device: torch.device):
    """``(loss_fn, num_outputs)`` for the lang directory; loss_fn(log_probs, segs, texts)."""
    from asr2emo.lang.prepare import read_lang_info

    info = read_lang_info(args.lang_dir)
    num_outputs = int(info["num_outputs"])
    topology = info.get("topology")
    if args.topology is not None and args.topology != topology:
        raise UserError(
            f"--topology={args.topology} but lang dir '{args.lang_dir}' was built with "
            f"--topology={topology}: rebuild it (stage 1, lang.conf --topology={args.topology})"
        )
    if topology == "chain":
        logging.info(
            f"chain topology: {num_outputs} pdfs (biphones, --min-biphone-count="
            f"{info['min_biphone_count']}, --min-monophone-count={info['min_monophone_count']})"
        )
    if args.loss == "ctc":
        if topology != "ctc":
            raise UserError(
                f"--loss=ctc needs a --topology=ctc lang dir; '{args.lang_dir}' is {topology}"
            )
        from asr2emo.model.ctc import CtcLoss

        return CtcLoss(args.lang_dir, device), num_outputs
    try:
        from asr2emo.lfmmi.graph_compiler import MmiGraphCompiler
        from asr2emo.lfmmi.loss import LfMmiLoss
    except ImportError as e:
        raise UserError(f"LF-MMI loss not available ({e}); use --loss=ctc")
    leaky = getattr(args, "leaky_hmm_coefficient", None) or 0.0
    compiler = MmiGraphCompiler(args.lang_dir, device=device, leaky_hmm_coefficient=leaky)
    kwargs = {k: getattr(args, k) for k in LOSS_KEYS if getattr(args, k) is not None}
    return LfMmiLoss(compiler, xent_regularize=xent_weight(args), **kwargs), num_outputs


def xent_weight(args: argparse.Namespace) -> float:
    """``--xent-regularize`` checked (unset: 0); it needs the LF-MMI numerator."""
    x = getattr(args, "xent_regularize", None) or 0.0
    if x < 0:
        raise UserError(f"--xent-regularize must be >= 0, got {x}")
    if x > 0 and getattr(args, "loss", "lfmmi") != "lfmmi":
        raise UserError(
            "--xent-regularize needs --loss=lfmmi (its targets are numerator posteriors)"
        )
    return x


def param_groups(model: TdnnfModel, xent_regularize: float) -> List[Dict[str, Any]]:
    """Optimizer groups, each with its ``lr_factor`` on the scheduled learning rate: all
    parameters at 1, but ``output-xent`` at :func:`xent_output_lr_factor` (Kaldi's effective
    rate under Adam)."""
    if model.xent is None:
        return [{"params": list(model.parameters()), "lr_factor": 1.0}]
    xent_out = list(model.xent[XENT_OUTPUT].parameters())
    ids = {id(p) for p in xent_out}
    rest = [p for p in model.parameters() if id(p) not in ids]
    return [
        {"params": rest, "lr_factor": 1.0},
        {"params": xent_out, "lr_factor": xent_output_lr_factor(xent_regularize)},
    ]


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """The scheduled ``lr`` times each group's ``lr_factor`` (groups without one: 1)."""
    for g in optimizer.param_groups:
        g["lr"] = lr * g.get("lr_factor", 1.0)


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
    xent_kwargs = {}
    if getattr(loss_fn, "xent_regularize", 0.0) > 0:
        log_probs, out_lens, xent_kwargs["xent_output"] = model(feats, ivecs, lens, xent=True)
    else:
        log_probs, out_lens = model(feats, ivecs, lens)
    segs, order = supervision_segments(out_lens.cpu())
    texts = [batch["texts"][i] for i in order.tolist()]
    loss, info = loss_fn(log_probs, segs, texts, **xent_kwargs)
    # Sequences the loss had to leave out (empty numerator) do not count as frames.
    frames = int(info["frames"]) if "frames" in info else int(out_lens.sum())
    return loss, frames, info


def kaldi_objectives(info: Dict[str, float]) -> Dict[str, float]:
    """Summed objectives Kaldi prints: ``output`` (the MMI log-probability) and, with the xent
    regularizer, ``output-xent`` (the branch's log-probability of the numerator posteriors)."""
    out = {}
    if "mmi" in info:
        out["output"] = info["mmi"]
    if "xent" in info:
        out["output-xent"] = -info["xent"]
    return out


def compute_validation_loss(model, loss_fn, valid_dl, device) -> Tuple[float, Dict[str, float]]:
    """Per-frame loss over the validation batches (eval mode, no dropout), summed over ranks,
    and the per-frame :func:`kaldi_objectives` (Kaldi's valid 'output' / 'output-xent')."""
    was_training = model.training
    model.eval()
    tot, frames = 0.0, 0
    parts: Dict[str, float] = {}
    with torch.no_grad():
        for batch in valid_dl:
            loss, n, info = compute_loss(model, loss_fn, batch, device)
            tot += float(loss)
            frames += n
            for k, v in kaldi_objectives(info).items():
                parts[k] = parts.get(k, 0.0) + v
    model.train(was_training)
    names = sorted(parts)
    if dist.is_initialized():
        tot, frames, *sums = all_reduce_sum(
            [tot, float(frames)] + [parts[k] for k in names], device
        )
        parts = dict(zip(names, sums))
    return tot / max(frames, 1), {k: v / max(frames, 1) for k, v in parts.items()}


def all_reduce_sum(values: Sequence[float], device: torch.device) -> List[float]:
    """``values`` summed over all ranks. The tensor lives on the model's ``device``: NCCL (the
    CUDA backend) reduces CUDA tensors only, gloo CPU ones."""
    t = torch.tensor(list(values), dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.cpu().tolist()


def format_objectives(parts: Dict[str, float]) -> str:
    """`` (output -0.0876, output-xent -1.0032)``: Kaldi's names, per frame; '' when none."""
    return f" ({', '.join(f'{k} {v:.4f}' for k, v in parts.items())})" if parts else ""


def objective_columns(prefix: str, parts: Dict[str, float]) -> Dict[str, str]:
    """:class:`LossLog` columns of per-frame objectives (``l2``: the penalty per frame)."""
    cols = {}
    for k, v in parts.items():
        cols["l2_penalty" if k == "l2" else f"{prefix}_{k.replace('-', '_')}"] = f"{v:.5f}"
    return cols


class LossLog:
    """``loss.csv`` rows (step, epoch, progress, lr, train/valid loss per frame, Kaldi's
    per-frame objectives when logged) and loss.png."""

    FIELDS = [
        "step", "epoch", "progress", "lr", "train_loss", "valid_loss", "frames_per_s",
        # Kaldi's per-frame objectives (log-probabilities) and the l2 penalty per frame.
        "train_output", "train_output_xent", "valid_output", "valid_output_xent", "l2_penalty",
    ]  # fmt: skip

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
    "num_workers",
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
    "topology",  # a check against the lang directory, whose fingerprint is in the record
)
STARTED = ".started"  # the record of the training whose checkpoints are in the directory


def training_record(args: argparse.Namespace, config: TdnnfConfig) -> Dict[str, Any]:
    """What the trained model depends on: topology, training settings, cuts, lang, CMVN."""
    settings = config_of(args, exclude=NOT_MODEL_SETTINGS)
    if settings.get("leaky_hmm_coefficient") is None:  # unset: the record trainings always had
        settings.pop("leaky_hmm_coefficient", None)
    if not settings.get("xent_regularize"):  # likewise for the regularizers when off
        settings.pop("xent_regularize", None)
    if not dataclass_from_args(LayerL2Config, args).enabled:
        for f in LayerL2Config.__dataclass_fields__:
            settings.pop(f, None)
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


def resident_mb() -> float:
    """This process's resident memory now, in MB (Linux /proc; 0 where it is not readable)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def make_dataloader(dataset, sampler, num_workers: int) -> torch.utils.data.DataLoader:
    """icefall's loader: the sampler yields whole batches of cuts (``batch_size=None``), the
    dataset turns each into tensors, in ``num_workers`` processes (0: in this one). Its own
    generator: each ``iter()`` of a DataLoader draws a seed, which must not come from the
    global generator that dropout and a resumed run's restored state rely on."""
    return torch.utils.data.DataLoader(
        dataset,
        sampler=sampler,
        batch_size=None,
        num_workers=num_workers,
        generator=torch.Generator().manual_seed(0),
    )


def load_checkpoint_if_available(
    params: AttributeDict, model: TdnnfModel, optimizer: torch.optim.Optimizer
) -> Optional[Dict[str, Any]]:
    """Restore ``model``, ``optimizer``, the schedule position (into ``params``) and this rank's
    generators from ``last_checkpoint``; returns the checkpoint (None on a fresh start)."""
    path = latest_checkpoint(params.exp_dir)
    if path is None:
        return None
    ckpt = torch.load(path, map_location="cpu")
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    for k in ("epoch", "batch_in_epoch", "step", "consumed"):
        params[k] = ckpt[k]
    if ckpt.get("epoch_finished", False):
        params.epoch += 1
        params.batch_in_epoch = 0
    # Each rank's own generators (dropout, SpecAugment masks) when the checkpoint has them for
    # this many ranks; older checkpoints hold rank 0's only.
    rngs = ckpt.get("rng_ranks") or []
    if len(rngs) == params.world_size:
        set_rng_state(rngs[params.rank], params.device)
    elif ckpt.get("rng") is not None and params.rank == 0:
        set_rng_state(ckpt["rng"], params.device)
    logging.info(f"resuming from {path} (epoch {ckpt['epoch']}, step {ckpt['step']})")
    return ckpt


def save_training_checkpoint(
    name: str,
    params: AttributeDict,
    model: TdnnfModel,
    optimizer: torch.optim.Optimizer,
    epoch_finished: bool,
) -> None:
    """Write ``exp_dir/name`` on rank 0 with every rank's generator states (icefall's
    ``save_checkpoint``: called at the same step on every rank; the model is the unwrapped one)."""
    rngs: List[Any] = [rng_state(params.device)]
    if params.world_size > 1:
        rngs = [None] * params.world_size
        dist.all_gather_object(rngs, rng_state(params.device))
    if params.rank != 0:
        return
    state = {k: params[k] for k in ("epoch", "batch_in_epoch", "step", "consumed")}
    save_checkpoint(
        params.exp_dir / name,
        dict(
            params.meta,
            model=model.state_dict(),
            optimizer=optimizer.state_dict(),
            rng=rngs[0],
            rng_ranks=rngs,
            epoch_finished=epoch_finished,
            **state,
        ),
        params.exp_dir,
    )


def model_meta(args: argparse.Namespace, config: TdnnfConfig, num_outputs: int, cmvn) -> Dict:
    """What ``final.pt`` carries besides the weights, for inference on its own."""
    return {
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


def run(args: argparse.Namespace) -> int:
    """Train (or resume) into ``args.exp_dir``; returns 0."""
    params = AttributeDict(vars(args))
    params.exp_dir = Path(args.exp_dir)
    for p in (args.train_cuts, args.valid_cuts):
        if not Path(p).is_file():
            raise UserError(f"cuts '{p}' do not exist; run the feature stages first")
    if args.num_workers < 0:
        raise UserError(f"--num-workers must be >= 0, got {args.num_workers}")
    config = read_model_config(args.model_config)
    record = training_record(args, config)
    if not needs_run(params.exp_dir, record, f"LF-MMI model {params.exp_dir}"):
        return 0
    torch.set_num_threads(1)
    params.rank, params.world_size, params.device = setup_distributed(args.device)
    is_main = params.rank == 0
    if is_main:
        clear_other_training(params.exp_dir, record)
        write_marker(params.exp_dir, record, STARTED)
    if params.world_size > 1:
        dist.barrier()
    # SpecAugment draws from Python's and numpy's generators (lhotse), dropout from torch's.
    torch.manual_seed(args.seed + params.rank)
    random.seed(args.seed + params.rank)
    np.random.seed(args.seed + params.rank)

    loss_fn, num_outputs = build_loss(args, params.device)
    before = resident_mb()
    train_cuts = CutSet.from_file(args.train_cuts)
    valid_cuts = CutSet.from_file(args.valid_cuts)
    # The manifests stay in memory (the sampler shuffles them): this is what grows with the data.
    logging.info(
        f"{len(train_cuts)} training and {len(valid_cuts)} validation cuts in memory "
        f"({resident_mb() - before:.0f} MB)"
    )
    xent_regularize = xent_weight(args)
    l2_config = dataclass_from_args(LayerL2Config, args)
    model = build_model(config, num_outputs, xent_branch=xent_regularize > 0)
    params.update(epoch=1, batch_in_epoch=0, step=0, consumed=0.0)
    resuming = latest_checkpoint(params.exp_dir) is not None
    cmvn = None if resuming else find_cmvn(args, train_cuts)
    if cmvn is not None:
        model.set_cmvn(torch.tensor(cmvn["mean"]), torch.tensor(cmvn["std"]))
    model.to(params.device).train()
    optimizer = torch.optim.Adam(param_groups(model, xent_regularize), lr=args.initial_lr)
    ckpt = load_checkpoint_if_available(params, model, optimizer)
    if ckpt is not None:
        cmvn = ckpt["cmvn"]
    params.meta = model_meta(args, config, num_outputs, cmvn)
    params.l2_config = l2_config
    ddp_model = model
    if params.world_size > 1:
        ddp_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[params.device.index] if params.device.type == "cuda" else None
        )

    dataset = AsrDataset(config.ivector_dim, config.ivector_period, args.require_ivectors)
    augment = None
    aug_config = spec_augment_config(args)
    if aug_config.enabled:
        # Hires MFCC: num_ceps == num_mel_bins == feat_dim, Kaldi's lifter 22.
        augment = MfccSpecAugment(aug_config, config.feat_dim, config.feat_dim)
        logging.info(f"SpecAugment (log-mel domain): {aug_config}")
    ws = params.world_size if params.world_size > 1 else None
    rk = params.rank if params.world_size > 1 else None
    sampler = make_sampler(
        train_cuts, args.max_duration, args.shuffle, args.bucketing, args.num_buckets, args.seed,
        ws, rk,
    )  # fmt: skip
    valid_sampler = make_sampler(valid_cuts, args.max_duration, False, False, 1, args.seed, ws, rk)
    valid_dl = make_dataloader(dataset, valid_sampler, args.num_workers)
    params.total_duration = sum(c.duration for c in train_cuts) * args.num_epochs
    if params.total_duration <= 0:
        raise UserError(f"{args.train_cuts}: no training audio")

    log = LossLog(params.exp_dir, is_main)
    log.truncate_after(params.step)
    if is_main:
        regularizers = []
        if xent_regularize > 0:
            regularizers.append(
                f"xent {xent_regularize} (output-xent lr factor "
                f"{xent_output_lr_factor(xent_regularize):g})"
            )
        if l2_config.enabled:
            l2 = ", ".join(f"{k} {v:g}" for k, v in l2_config.weights().items())
            regularizers.append(f"l2 per {l2_config.l2_chunk_frames} frames: {l2}")
        logging.info(
            f"training {model.num_params():,} parameters ({num_outputs} outputs) on "
            f"{params.device} x{params.world_size}, {args.num_epochs} epochs, loss {args.loss}"
            f"{', ' + '; '.join(regularizers) if regularizers else ''}, "
            f"{args.num_workers} loader worker(s)"
        )
    stopped = False
    for epoch in range(params.epoch, args.num_epochs + 1):
        params.epoch = epoch
        sampler.set_epoch(epoch)
        train_dl = make_dataloader(
            dataset, SkipBatches(sampler, params.batch_in_epoch), args.num_workers
        )
        stopped = train_one_epoch(
            params, ddp_model, model, optimizer, loss_fn, train_dl, log, augment
        )
        if stopped:
            break
        valid, valid_parts = compute_validation_loss(model, loss_fn, valid_dl, params.device)
        if is_main:
            logging.info(
                f"epoch {epoch}: valid loss {valid:.4f} per frame{format_objectives(valid_parts)}"
            )
            log.add(
                step=params.step,
                epoch=epoch,
                valid_loss=f"{valid:.5f}",
                **objective_columns("valid", valid_parts),
            )
            log.plot()
        params.batch_in_epoch = 0
        save_training_checkpoint(f"epoch-{epoch}.pt", params, model, optimizer, True)
    if params.world_size > 1:
        dist.barrier()
    if is_main:
        log.plot()
        if not stopped:
            write_final(
                params.exp_dir, args.average_n, stats_recomputer(params, model, dataset, train_cuts)
            )
            write_marker(params.exp_dir, record)
    if params.world_size > 1:
        dist.destroy_process_group()
    return 0


def stats_recomputer(
    params: AttributeDict, model: TdnnfModel, dataset: AsrDataset, train_cuts: CutSet
):
    """``write_final``'s ``recompute``: batchnorm statistics over the first
    ``--recompute-stats-batches`` minibatches of the training cuts (a sampler of its own,
    seeded; no augmentation), computed in ``model``; None when the key is 0."""
    n = params.recompute_stats_batches
    if n <= 0:
        return None
    from asr2emo.model.batchnorm_stats import recompute_state_stats

    def recompute(state):
        sampler = make_sampler(
            train_cuts, params.max_duration, params.shuffle,
            params.bucketing, params.num_buckets, params.seed,
        )  # fmt: skip
        batches = itertools.islice(make_dataloader(dataset, sampler, params.num_workers), n)
        return recompute_state_stats(model, state, batches, params.device)

    return recompute


def train_one_epoch(
    params: AttributeDict,
    ddp_model: torch.nn.Module,
    model: TdnnfModel,
    optimizer: torch.optim.Optimizer,
    loss_fn,
    train_dl: torch.utils.data.DataLoader,
    log: LossLog,
    augment: Optional[MfccSpecAugment] = None,
) -> bool:
    """One pass over ``train_dl`` (from where the epoch stands); True when --max-steps stopped
    it. ``ddp_model`` is what runs the batches (DDP-wrapped or not), ``model`` the unwrapped one
    (schedules, constraints, checkpoints)."""
    model.train()
    is_main = params.rank == 0
    ratio = params.final_lr / params.initial_lr
    tot_loss, tot_frames, t_start, win_frames = 0.0, 0, time.time(), 0
    tot_parts: Dict[str, float] = {}
    tot_l2 = 0.0
    l2_config = params.get("l2_config") or LayerL2Config()
    lr, fps, failed = optimizer.param_groups[0]["lr"], 0.0, 0
    if params.max_steps and params.step >= params.max_steps:
        return True
    bar = tqdm(
        desc=f"epoch {params.epoch}",
        disable=not is_main,
        initial=params.batch_in_epoch,
        unit="batch",
        dynamic_ncols=True,
    )
    for batch in train_dl:
        progress = min(params.consumed / params.total_duration, 1.0)
        lr = params.initial_lr * ratio**progress
        set_learning_rate(optimizer, lr)
        model.set_dropout(progress)
        if params.cycle_frame_shift:
            model.set_frame_shift(
                (params.step + params.rank) % model.config.frame_subsampling_factor
            )
        if augment is not None:
            batch["feats"] = augment(batch["feats"], batch["feat_lens"])
        loss, frames, info = compute_loss(ddp_model, loss_fn, batch, params.device)
        failed += int(info.get("num_failed", 0))
        optimizer.zero_grad()
        objective = loss / max(frames, 1)
        if l2_config.enabled:
            penalty = l2_penalty(model, l2_config)
            objective = objective + penalty.to(objective.dtype)
            tot_l2 += float(penalty.detach()) * frames
        objective.backward()
        if params.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), params.max_grad_norm)
        optimizer.step()
        params.step += 1
        params.batch_in_epoch += 1
        params.consumed += float(batch["duration"]) * params.world_size
        if params.orthonormal_every > 0 and params.step % params.orthonormal_every == 0:
            model.constrain_orthonormal()
        value = float(loss.detach()) / max(frames, 1)
        if not math.isfinite(value):
            raise RuntimeError(f"non-finite loss at step {params.step} (cuts {batch['cut_ids']})")
        tot_loss += float(loss.detach())
        tot_frames += frames
        for k, v in kaldi_objectives(info).items():
            tot_parts[k] = tot_parts.get(k, 0.0) + v
        win_frames += int(batch["feat_lens"].sum())
        fps = win_frames * params.world_size / max(time.time() - t_start, 1e-6)
        bar.update(1)
        bar.set_postfix(loss=f"{value:.4f}", lr=f"{lr:.2e}", fps=f"{fps:.0f}")
        if is_main and params.step % params.log_interval == 0:
            parts = {k: v / max(tot_frames, 1) for k, v in tot_parts.items()}
            if l2_config.enabled:
                parts["l2"] = tot_l2 / max(tot_frames, 1)
            logging.info(
                f"epoch {params.epoch} step {params.step}: loss "
                f"{tot_loss / max(tot_frames, 1):.4f} per frame{format_objectives(parts)}, "
                f"lr {lr:.3e}, {fps:.0f} input frames/s"
                + (f", {failed} sequences left out (empty numerator)" if failed else "")
            )
            log.add(
                step=params.step,
                epoch=params.epoch,
                progress=f"{progress:.4f}",
                lr=f"{lr:.3e}",
                train_loss=f"{tot_loss / max(tot_frames, 1):.5f}",
                frames_per_s=f"{fps:.0f}",
                **objective_columns("train", parts),
            )
            tot_loss, tot_frames, tot_parts, tot_l2 = 0.0, 0, {}, 0.0
        if params.save_every_n > 0 and params.step % params.save_every_n == 0:
            save_training_checkpoint(
                f"checkpoint-{params.step}.pt", params, model, optimizer, False
            )
            if is_main:
                remove_old_step_checkpoints(params.exp_dir, params.keep_last_k)
        if params.max_steps and params.step >= params.max_steps:
            bar.close()
            save_training_checkpoint(
                f"checkpoint-{params.step}.pt", params, model, optimizer, False
            )
            logging.info(f"stopping at step {params.step} (--max-steps)")
            return True
    bar.close()
    if is_main and tot_frames:
        parts = {k: v / tot_frames for k, v in tot_parts.items()}
        if l2_config.enabled:
            parts["l2"] = tot_l2 / tot_frames
        log.add(
            step=params.step,
            epoch=params.epoch,
            lr=f"{lr:.3e}",
            train_loss=f"{tot_loss / tot_frames:.5f}",
            frames_per_s=f"{fps:.0f}",
            **objective_columns("train", parts),
        )
    return False
