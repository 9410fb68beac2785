"""The TDNN-F acoustic model: topology, layers, checkpoints, minibatches, and :func:`load_model`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Union

import torch

from asr2emo.model.tdnnf import TdnnfConfig, TdnnfModel, build_model, read_model_config
from asr2emo.utils.errors import UserError

__all__ = ["TdnnfConfig", "TdnnfModel", "build_model", "read_model_config", "load_model"]


def resolve_checkpoint(model_dir_or_checkpoint: Union[str, Path]) -> Path:
    """A model directory means its ``final.pt``; a file is that checkpoint. Never a guess: a
    directory still training (no ``final.pt``) is an error naming the checkpoints it has, which
    can be given explicitly (e.g. ``exp/tdnnf/epoch-3.pt``)."""
    from asr2emo.model.checkpoint import epoch_checkpoints

    path = Path(model_dir_or_checkpoint)
    if path.is_file():
        return path
    if path.is_dir():
        if (path / "final.pt").is_file():
            return path / "final.pt"
        epochs = [p.name for p in epoch_checkpoints(path)]
        has = f"it has {', '.join(epochs)}; give one of them explicitly" if epochs else "none"
        raise UserError(f"model directory '{path}' has no final.pt (training unfinished?); {has}")
    raise UserError(f"model '{path}' does not exist (expected a model directory or a .pt file)")


def load_model(
    model_dir_or_checkpoint: Union[str, Path], device: Union[str, torch.device] = "cpu"
) -> TdnnfModel:
    """The trained TDNN-F in eval mode, with its CMVN; ``model.info`` holds the rest of the setup.

    ``model.info`` has ``model_config``, ``num_outputs``, ``ivector`` (dim, period in frames,
    extractor directory when known), ``lang_dir`` and ``cmvn``.
    """
    path = resolve_checkpoint(model_dir_or_checkpoint)
    ckpt = torch.load(path, map_location="cpu")
    if "model_config" not in ckpt or "model" not in ckpt:
        raise UserError(f"'{path}' is not a TDNN-F checkpoint written by asr2emo train-lfmmi")
    config = TdnnfConfig(**ckpt["model_config"])
    # A model trained with the xent regularizer keeps its branch (a training-only part).
    xent = any(k.startswith("xent.") for k in ckpt["model"])
    model = TdnnfModel(config, int(ckpt["num_outputs"]), xent_branch=xent)
    model.load_state_dict(ckpt["model"])
    model.info = {k: v for k, v in ckpt.items() if k not in ("model", "optimizer", "sampler")}
    model.info["checkpoint"] = str(path)
    logging.info(f"acoustic model: {path}")
    return model.to(device).eval()
