"""The acoustic model as an ASR system (``asr2emo transcribe``): audio files of any length -> text.

Each file is read in silence-cut segments of about ``segment_seconds``
(:func:`asr2emo.data.long_audio.silence_segments`), so memory does not grow with its length;
per segment: hires MFCC at 16 kHz, online i-vectors with the extractor recorded in the model
(restarted per segment, as for the training utterances), the network, 1-best HLG decoding as in
stage 5. The words of the segments are joined in order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional, Union

import numpy as np
import torch

from asr2emo.data.long_audio import AudioError, open_audio, silence_segments
from asr2emo.lang.prepare import read_lang_info
from asr2emo.lfmmi.decode import decode_one_best, load_hlg
from asr2emo.utils.errors import UserError

Pathlike = Union[str, Path]
MIN_SECONDS = 0.025  # one hires MFCC frame


class Transcriber:
    """Loads the model, HLG and i-vector extractor once; :meth:`transcribe_file` per file."""

    def __init__(
        self,
        model_dir: Pathlike,
        lang_dir: Optional[Pathlike] = None,
        ivector_extractor: Optional[Pathlike] = None,
        device: str = "cpu",
        search_beam: float = 20.0,
        output_beam: float = 8.0,
        segment_seconds: float = 30.0,
    ) -> None:
        from asr2emo.ivector import IvectorExtractor
        from asr2emo.model import load_model

        self.device = torch.device(device)
        self.model = load_model(model_dir, self.device)
        lang = Path(lang_dir or self.model.info.get("lang_dir", ""))
        info = read_lang_info(lang)
        if int(info["num_outputs"]) != int(self.model.info["num_outputs"]):
            raise UserError(f"model and lang directory '{lang}' do not match (num_outputs)")
        self.HLG = load_hlg(lang, self.device)
        iv = self.model.info.get("ivector", {})
        self.ivector_dim = int(iv.get("dim", 0))
        iv_dir = ivector_extractor or iv.get("extractor_dir", "")
        if self.ivector_dim > 0 and not iv_dir and iv.get("required", True):
            raise UserError("the model uses i-vectors: give --ivector-extractor (stage-3 dir)")
        self.extractor = IvectorExtractor.load(iv_dir) if iv_dir else None
        self.beams = dict(search_beam=search_beam, output_beam=output_beam)
        self.segment_seconds = segment_seconds

    @torch.no_grad()
    def decode_samples(self, samples: np.ndarray, sampling_rate: int) -> list:
        """Words of one mono segment ([] when it is shorter than one feature frame)."""
        from asr2emo.features.mfcc import compute_mfcc

        if len(samples) < MIN_SECONDS * sampling_rate:
            return []
        feats = compute_mfcc(samples, sampling_rate)
        if feats.shape[0] == 0:
            return []
        if self.extractor is not None:
            ivecs = self.extractor.extract_online(feats)
        else:
            ivecs = np.zeros((1, self.ivector_dim), dtype=np.float32)
        x = torch.from_numpy(np.ascontiguousarray(feats, dtype=np.float32))[None]
        iv = torch.from_numpy(np.ascontiguousarray(ivecs, dtype=np.float32))[None]
        log_probs, out_lens = self.model(x.to(self.device), iv.to(self.device))
        segs = torch.tensor([[0, 0, int(out_lens[0])]], dtype=torch.int32)
        return decode_one_best(log_probs, segs, self.HLG, **self.beams)[0]

    def transcribe_file(self, path: Pathlike) -> Dict:
        """``{"path", "text", "duration", "segments"}``; :class:`AudioError` for unusable audio."""
        with open_audio(path) as f:
            seconds = f.frames / f.samplerate
        if seconds < MIN_SECONDS:
            raise AudioError(f"too short ({seconds * 1000:.1f} ms; one 25 ms frame is needed)")
        words, duration, n = [], 0.0, 0
        for seg in silence_segments(path, self.segment_seconds):
            words += self.decode_samples(seg.samples, seg.sampling_rate)
            duration += seg.duration
            n += 1
        return {
            "path": str(path),
            "text": " ".join(words),
            "duration": round(duration, 3),
            "segments": n,
        }
