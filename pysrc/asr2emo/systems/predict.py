"""Emotion of new recordings with the exported deploy system (``asr2emo predict``).

Per file, the recipe's front end (as stage 8's predictor: channel 0, hires MFCC, online
i-vectors, the frozen TDNN-F), every layer the members read in one pass, then the inputs of
:class:`asr2emo.systems.members.SystemInputs` for one utterance (the paper layer's frames,
every mixed layer's utterance mean/std and frames, eGeMAPS functionals of the signal) and the
ensemble's mean posteriors (:func:`asr2emo.systems.export.ensemble_posteriors`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict

import numpy as np
import torch

from asr2emo.data.long_audio import read_mono
from asr2emo.emotion.data import FrameData
from asr2emo.emotion.predict import signal_layer_outputs
from asr2emo.systems.export import base_systems, ensemble_posteriors
from asr2emo.systems.members import SystemInputs
from asr2emo.systems.pooling import utterance_stats

_DTYPES = {"float32": torch.float32, "float16": torch.float16}


class SystemsPredictor:
    """Loads a systems model dir once; :meth:`predict_file` returns ``{"path", "label",
    "posteriors", "ensemble"}``."""

    def __init__(self, model_dir: str | Path, device: str = "cpu") -> None:
        from asr2emo.ivector import IvectorExtractor
        from asr2emo.model import load_model

        model_dir = Path(model_dir)
        self.config = json.loads((model_dir / "config.json").read_text())
        self.members = torch.load(model_dir / self.config["systems"], map_location="cpu")
        self.classes = list(self.config["classes"])
        self.ensemble = list(self.config["ensemble"])
        self.layers = list(self.config["layers"])
        self.paper_layer = self.config["paper_layer"]
        self.device = device
        self.acoustic = load_model(model_dir / self.config["acoustic_model_dir"], device)
        self.ivector = IvectorExtractor.load(model_dir / self.config["ivector_dir"])
        self.smile = None
        if any(n in base_systems(self.ensemble) for n in ("egemaps", "early", "early_layer")):
            from asr2emo.baselines.features import egemaps_extractor

            self.smile = egemaps_extractor()

    @torch.no_grad()
    def inputs(self, samples: np.ndarray, sampling_rate: int) -> SystemInputs:
        """One utterance's :class:`SystemInputs` from a mono signal."""
        from asr2emo.baselines.features import NUM_EGEMAPS, egemaps_functionals

        wanted = self.layers + [self.paper_layer]
        out = signal_layer_outputs(
            self.acoustic, self.ivector, samples, sampling_rate, wanted, self.device
        )
        dtype = _DTYPES[self.config.get("frame_dtype", "float32")]

        def frames(feats: torch.Tensor) -> FrameData:
            n = int(feats.shape[0])
            return FrameData(feats.to(dtype), np.array([0, n]), ["input"], ["input"],
                             np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64),
                             self.classes)  # fmt: skip

        stats = np.stack([utterance_stats(out[n].numpy()) for n in self.layers])[None]
        egemaps = (
            egemaps_functionals(self.smile, samples, sampling_rate)[None]
            if self.smile is not None
            else np.zeros((1, NUM_EGEMAPS), dtype=np.float32)
        )
        mix = frames(torch.stack([out[n] for n in self.layers], dim=1))
        return SystemInputs(frames(out[self.paper_layer]), torch.from_numpy(stats), egemaps,
                            self.config.get("paper_index"), mix)  # fmt: skip

    def predict_inputs(self, inp: SystemInputs) -> Dict:
        weights = self.config["fusion_weights"]
        post = ensemble_posteriors(self.members, self.ensemble, weights, inp, np.array([0]))[0]
        return {
            "label": self.classes[int(np.argmax(post))],
            "posteriors": {c: round(float(p), 6) for c, p in zip(self.classes, post)},
        }

    def predict_file(self, path: str | Path) -> Dict:
        samples, sr = read_mono(path)
        return {"path": str(path), **self.predict_inputs(self.inputs(samples, sr))}
