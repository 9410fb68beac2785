"""LF-MMI with k2: numerator/denominator graphs, the loss, HLG decoding and WER."""
