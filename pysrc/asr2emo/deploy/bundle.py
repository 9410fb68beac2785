"""Layout of an ONNX export directory, written by :mod:`asr2emo.emotion.onnx_export` and read
here without torch.

``OUT/`` holds::

    model.onnx    normalized MFCC (T, feat_dim) + online i-vectors (T_iv, ivector_dim)
                  -> frame posteriors (ceil(T / 3), C): the TDNN-F up to the layer + the head
    config.json   {"format": "onnx", "onnx", "classes", "layer", "aggregation": "sum_softmax",
                   "feat_dim", "ivector_dim", "ivector_period", "frame_shift", "opset", ...}
    cmvn.npz      mean, std: ``normed = (mfcc - mean) / std`` (the acoustic model's CMVN)
    ivector.npz   pca_mean, pca_transform, ubm_weights, ubm_means, ubm_variances, T,
                  prior_offset, global_cmvn_mean
    ivector.json  the extractor's options (splice context, Gaussian selection, period, ...)
    mfcc.json     the MFCC options (Kaldi names; asr2emo.features.mfcc.KaldiMfccHiresConfig)

The utterance decision is ``sum_softmax``: the frame posteriors summed over the frames and
normalized to sum to one; the label is their argmax.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from asr2emo.utils.errors import UserError

FORMAT = "onnx"
MODEL_FILE = "model.onnx"
CMVN_FILE = "cmvn.npz"
IVECTOR_FILE = "ivector.npz"
IVECTOR_OPTIONS_FILE = "ivector.json"
MFCC_FILE = "mfcc.json"
IVECTOR_ARRAYS = (
    "pca_mean",
    "pca_transform",
    "ubm_weights",
    "ubm_means",
    "ubm_variances",
    "T",
    "prior_offset",
    "global_cmvn_mean",
)
AGGREGATION = "sum_softmax"


def export_format(path: str | Path) -> Optional[str]:
    """The ``format`` in the ``config.json`` of an export dir (or of the dir of a file in it),
    None when there is none; one reader for the ONNX and the TorchScript exports, torch-free."""
    path = Path(path)
    conf = (path.parent if path.is_file() else path) / "config.json"
    if not conf.is_file():
        return None
    try:
        return json.loads(conf.read_text()).get("format")
    except ValueError:
        return None


def is_onnx_export(path: str | Path) -> bool:
    """True for an ONNX export dir (config.json with format onnx) or its ``model.onnx``."""
    return export_format(path) == FORMAT


@dataclass
class Bundle:
    """The parts of an export dir as numpy arrays and dicts."""

    directory: Path
    config: Dict
    cmvn_mean: np.ndarray
    cmvn_std: np.ndarray
    ivector: Dict[str, np.ndarray]
    ivector_options: Dict
    mfcc_options: Dict

    @property
    def classes(self) -> List[str]:
        return list(self.config["classes"])

    @property
    def model_path(self) -> Path:
        return self.directory / self.config.get("onnx", MODEL_FILE)


def _npz(path: Path, keys: tuple) -> Dict[str, np.ndarray]:
    try:
        with np.load(path) as data:
            missing = [k for k in keys if k not in data.files]
            if missing:
                raise UserError(f"'{path}' lacks the arrays {', '.join(missing)}")
            return {k: np.asarray(data[k]) for k in keys}
    except (OSError, ValueError) as e:
        raise UserError(f"'{path}' is not a readable .npz file ({e})") from None


def _json(path: Path) -> Dict:
    try:
        return json.loads(path.read_text())
    except ValueError as e:
        raise UserError(f"'{path}' is not valid JSON ({e})") from None


def load_bundle(path: str | Path) -> Bundle:
    """Read an export dir (or the dir of its ``model.onnx``); a missing part is a UserError."""
    path = Path(path)
    directory = path.parent if path.is_file() else path
    if not is_onnx_export(directory):
        raise UserError(f"'{directory}' is not an ONNX export (config.json with format onnx)")
    names = (MODEL_FILE, CMVN_FILE, IVECTOR_FILE, IVECTOR_OPTIONS_FILE, MFCC_FILE)
    missing = [n for n in names if not (directory / n).is_file()]
    if missing:
        raise UserError(f"ONNX export '{directory}' lacks {', '.join(missing)}")
    cmvn = _npz(directory / CMVN_FILE, ("mean", "std"))
    return Bundle(
        directory=directory,
        config=_json(directory / "config.json"),
        cmvn_mean=cmvn["mean"].astype(np.float32),
        cmvn_std=cmvn["std"].astype(np.float32),
        ivector=_npz(directory / IVECTOR_FILE, IVECTOR_ARRAYS),
        ivector_options=_json(directory / IVECTOR_OPTIONS_FILE),
        mfcc_options=_json(directory / MFCC_FILE),
    )


def sum_softmax(frame_posteriors: np.ndarray) -> np.ndarray:
    """The utterance posteriors ``(C,)``: frame posteriors summed, normalized to sum to one."""
    summed = np.asarray(frame_posteriors, dtype=np.float64).sum(axis=0)
    return summed / summed.sum()
