"""Online i-vectors as in Kaldi's ``run_ivector_common.sh``: splice +-3 -> PCA -> diagonal UBM ->
total-variability matrix, extracted every 10 frames from the statistics seen so far."""

from asr2emo.ivector.extractor import IvectorExtractor

__all__ = ["IvectorExtractor"]
