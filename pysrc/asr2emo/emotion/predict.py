"""Emotion of new recordings with a model dir written by stage 8 (``asr2emo predict``).

Pipeline per file, the same as the recipe's stages 6-8: read (any rate, any channel count;
channel 0, as in training: :data:`asr2emo.data.long_audio.CHANNEL`), hires MFCC at 16 kHz
(:func:`asr2emo.features.mfcc.compute_mfcc` resamples with lhotse), online i-vectors with the
copied extractor, the frozen TDNN-F up to the model's layer (its CMVN is inside the
checkpoint), the emotion head, summed-softmax decision.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict

import numpy as np
import torch

from asr2emo.emotion.aggregate import aggregate
from asr2emo.emotion.head import load_head
from asr2emo.utils.errors import UserError


def read_mono(path: str | Path) -> tuple[np.ndarray, int]:
    """Samples ``(N,)`` float32 in [-1, 1] of the channel the recipe trains on (channel 0), and
    the sampling rate. A missing, unreadable or empty file is an :class:`AudioError` saying which.
    """
    from lhotse import Recording

    from asr2emo.data.long_audio import CHANNEL, open_audio

    open_audio(path).close()
    rec = Recording.from_file(str(path))
    audio = rec.load_audio()  # (channels, samples)
    if audio.size == 0:
        raise ValueError("no samples")
    return audio[CHANNEL].astype(np.float32), int(rec.sampling_rate)


class EmotionPredictor:
    """Loads a model dir once; :meth:`predict_file` returns ``{"path", "label", "posteriors"}``."""

    def __init__(self, model_dir: str | Path, device: str = "cpu") -> None:
        model_dir = Path(model_dir)
        conf_path = model_dir / "config.json"
        if not conf_path.is_file():
            raise UserError(
                f"'{model_dir}' is not an emotion model dir (no config.json; run stage 8)"
            )
        self.config = json.loads(conf_path.read_text())
        self.layer = self.config["layer"]
        self.head, self.classes = load_head(model_dir / self.config.get("head", "head.pt"))
        if not self.config.get("acoustic_model_dir"):
            raise UserError(f"'{model_dir}' holds no acoustic model (acoustic/ was not copied)")
        if not self.config.get("ivector_dir"):
            raise UserError(f"'{model_dir}' holds no i-vector extractor (ivector/ was not copied)")
        from asr2emo.ivector import IvectorExtractor
        from asr2emo.model import load_model

        self.device = device
        self.acoustic = load_model(model_dir / self.config["acoustic_model_dir"], device)
        self.acoustic.check_layer(self.layer)
        self.ivector = IvectorExtractor.load(model_dir / self.config["ivector_dir"])
        if self.acoustic.layer_dim(self.layer) != self.head.config["input_dim"]:
            raise UserError(
                f"'{model_dir}': layer {self.layer} has dim {self.acoustic.layer_dim(self.layer)} "
                f"but the head expects {self.head.config['input_dim']}"
            )

    @torch.no_grad()
    def bottleneck(self, samples: np.ndarray, sampling_rate: int) -> torch.Tensor:
        """``(T_out, dim)`` layer output for a mono signal."""
        from asr2emo.features.mfcc import compute_mfcc

        feats = compute_mfcc(samples, sampling_rate)
        if feats.shape[0] == 0:
            raise ValueError("too short for one feature frame")
        ivecs = self.ivector.extract_online(feats)
        x = torch.from_numpy(np.ascontiguousarray(feats, dtype=np.float32))[None].to(self.device)
        iv = torch.from_numpy(np.ascontiguousarray(ivecs, dtype=np.float32))[None].to(self.device)
        # chunks of 500 output frames (with full context, equal to whole-utterance output) keep
        # the cost linear in the input length
        return self.acoustic.extract(x, iv, self.layer, chunk_size=500)[0].cpu()

    @torch.no_grad()
    def predict_frames(self, frames: torch.Tensor) -> Dict:
        """Label and posteriors (normalized summed softmax) from bottleneck frames."""
        lp = self.head(frames.float())
        out = aggregate(lp, torch.zeros(lp.shape[0], dtype=torch.long), 1)
        post = out["posteriors"][0].tolist()
        return {
            "label": self.classes[int(out["sum_softmax"][0])],
            "posteriors": {c: round(p, 6) for c, p in zip(self.classes, post)},
        }

    def predict_file(self, path: str | Path) -> Dict:
        samples, sr = read_mono(path)
        return {"path": str(path), **self.predict_frames(self.bottleneck(samples, sr))}


def load_predictor(model_dir: str | Path, device: str = "cpu"):
    """:class:`EmotionPredictor` for a stage-8 model dir; for an ``asr2emo export`` dir (or its
    ``model.pt``) the TorchScript predictor with the same ``predict_file`` interface."""
    from asr2emo.emotion.torchscript import TorchScriptPredictor, is_torchscript_export

    if is_torchscript_export(Path(model_dir)):
        return TorchScriptPredictor(model_dir, device)
    return EmotionPredictor(model_dir, device)
