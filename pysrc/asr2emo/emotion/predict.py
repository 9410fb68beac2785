"""Emotion of new recordings with a model dir written by stage 8 (``asr2emo predict``).

Pipeline per file, the same as the recipe's stages 6-8: read (any rate, any channel count;
channel 0, as in training: :data:`asr2emo.data.long_audio.CHANNEL`), hires MFCC at 16 kHz
(:func:`asr2emo.features.mfcc.compute_mfcc` resamples with lhotse), online i-vectors with the
copied extractor, the frozen TDNN-F up to the model's layer (its CMVN is inside the
checkpoint), the emotion head, summed-softmax decision.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import numpy as np
import torch

from asr2emo.data.long_audio import read_mono
from asr2emo.emotion.aggregate import aggregate
from asr2emo.emotion.export import load_model_dir
from asr2emo.utils.errors import UserError


@torch.no_grad()
def signal_layer_outputs(
    acoustic, ivector, samples: np.ndarray, sampling_rate: int, layers: List[str], device: str
) -> Dict[str, torch.Tensor]:
    """``{layer: (T_out, dim)}`` on the CPU for a mono signal: hires MFCC, online i-vectors,
    then the acoustic model in chunks of 500 output frames (each with its full context, so equal
    to the whole-utterance output, at a cost linear in the input length)."""
    from asr2emo.features.mfcc import compute_mfcc

    feats = compute_mfcc(samples, sampling_rate)
    if feats.shape[0] == 0:
        raise ValueError("too short for one feature frame")
    ivecs = ivector.extract_online(feats)
    x = torch.from_numpy(np.ascontiguousarray(feats, dtype=np.float32))[None].to(device)
    iv = torch.from_numpy(np.ascontiguousarray(ivecs, dtype=np.float32))[None].to(device)
    out = acoustic.extract_multi(x, iv, list(dict.fromkeys(layers)), chunk_size=500)
    return {k: v[0].cpu() for k, v in out.items()}


class EmotionPredictor:
    """Loads a model dir once; :meth:`predict_file` returns ``{"path", "label", "posteriors"}``."""

    def __init__(self, model_dir: str | Path, device: str = "cpu") -> None:
        model_dir = Path(model_dir)
        self.config, self.head, self.classes, self.acoustic = load_model_dir(model_dir, device)
        self.layer = self.config["layer"]
        self.device = device
        if not self.config.get("ivector_dir"):
            raise UserError(f"'{model_dir}' holds no i-vector extractor (ivector/ was not copied)")
        from asr2emo.ivector import IvectorExtractor

        self.ivector = IvectorExtractor.load(model_dir / self.config["ivector_dir"])

    def bottleneck(self, samples: np.ndarray, sampling_rate: int) -> torch.Tensor:
        """``(T_out, dim)`` layer output for a mono signal."""
        return signal_layer_outputs(
            self.acoustic, self.ivector, samples, sampling_rate, [self.layer], self.device
        )[self.layer]

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
