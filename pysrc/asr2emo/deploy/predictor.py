"""``asr2emo predict`` from an ONNX export: audio -> MFCC -> online i-vectors -> onnxruntime ->
summed-softmax decision, with numpy, soundfile, kaldi-native-fbank and onnxruntime only."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

import numpy as np

from asr2emo.data.long_audio import read_mono
from asr2emo.deploy.bundle import Bundle, load_bundle, sum_softmax
from asr2emo.deploy.ivector import IvectorModel, extract_online
from asr2emo.deploy.mfcc import compute_mfcc
from asr2emo.deploy.resample import resample_poly
from asr2emo.utils.errors import UserError


class OnnxPredictor:
    """Loads an export dir once; :meth:`predict_file` returns ``{"path", "label", "posteriors"}``
    (the interface of :class:`asr2emo.emotion.predict.EmotionPredictor`)."""

    def __init__(self, path: str | Path, num_threads: int = 1) -> None:
        import onnxruntime as ort

        self.bundle: Bundle = load_bundle(path)
        self.classes = self.bundle.classes
        self.config = self.bundle.config
        self.ivector = IvectorModel(self.bundle.ivector, self.bundle.ivector_options)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(num_threads)
        opts.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(
                str(self.bundle.model_path), opts, providers=["CPUExecutionProvider"]
            )
        except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph types
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise UserError(f"'{self.bundle.model_path}' is not a loadable ONNX model ({msg})")

    @property
    def sampling_rate(self) -> int:
        return int(self.bundle.mfcc_options["sampling_rate"])

    def frame_posteriors(self, feats: np.ndarray, ivectors: np.ndarray) -> np.ndarray:
        """Raw MFCC ``(T, 40)`` + i-vectors -> frame posteriors ``(ceil(T / 3), C)``."""
        normed = (
            np.asarray(feats, dtype=np.float32) - self.bundle.cmvn_mean
        ) / self.bundle.cmvn_std
        iv = np.ascontiguousarray(ivectors, dtype=np.float32)
        return self.session.run(None, {"feats": normed.astype(np.float32), "ivectors": iv})[0]

    def decision(self, frame_posteriors: np.ndarray) -> Dict:
        """``{"label", "posteriors"}`` by the export's aggregation rule (summed softmax)."""
        post = sum_softmax(frame_posteriors)
        return {
            "label": self.classes[int(np.argmax(post))],
            "posteriors": {c: round(float(p), 6) for c, p in zip(self.classes, post)},
        }

    def predict_features(self, feats: np.ndarray, ivectors: np.ndarray) -> Dict:
        return self.decision(self.frame_posteriors(feats, ivectors))

    def features(self, samples: np.ndarray, sampling_rate: int) -> np.ndarray:
        """MFCC ``(T, 40)`` of a mono signal at any rate (resampled as training resamples)."""
        if sampling_rate != self.sampling_rate:
            samples = resample_poly(samples, sampling_rate, self.sampling_rate)
        feats = compute_mfcc(np.asarray(samples, dtype=np.float32), self.bundle.mfcc_options)
        if feats.shape[0] == 0:
            raise ValueError("too short for one feature frame")
        return feats

    def predict_file(self, path: str | Path) -> Dict:
        samples, sr = read_mono(path)
        feats = self.features(samples, sr)
        ivecs = extract_online(self.ivector, feats)
        return {"path": str(path), **self.predict_features(feats, ivecs)}
