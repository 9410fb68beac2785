"""asr2emo: speech emotion recognition by transfer from an LF-MMI TDNN-F ASR acoustic model."""

__version__ = "0.1.0"
