"""Emotion over time for recordings of any length: fixed windows every ``hop`` seconds.

The file is read in blocks (:func:`asr2emo.data.long_audio.read_blocks`) and fed to a
:class:`~asr2emo.deploy.streaming.StreamingTimeline`: resampling, MFCC and online i-vectors run
on the stream and carry their state across blocks, so memory does not grow with the recording
and every window sees the i-vector of all audio before it. Windows (:mod:`.windows`) start
every hop, overlap by exactly ``window - hop`` and together cover the recording; each is decided
as one utterance (the export's summed softmax).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from asr2emo.data.long_audio import open_audio, read_blocks
from asr2emo.deploy.predictor import OnnxPredictor
from asr2emo.deploy.streaming import StreamingTimeline
from asr2emo.deploy.windows import TimelineOptions, window_frames

__all__ = ["TimelineOptions", "timeline", "window_frames"]


def timeline(predictor: OnnxPredictor, path: str | Path, opts: TimelineOptions) -> Iterator[dict]:
    """``{"path", "start", "end", "label", "posteriors"}`` per window of the recording ``path``
    (times in seconds); an unreadable block raises AudioError naming its offset."""
    with open_audio(path) as f:
        sr = int(f.samplerate)
        stream = StreamingTimeline(predictor, sr, opts)
        for block in read_blocks(f, max(1, int(opts.block * sr))):
            for rec in stream.accept(block):
                yield {"path": str(path), **rec}
        for rec in stream.finish():
            yield {"path": str(path), **rec}
