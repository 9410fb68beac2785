"""Emotion systems beyond the paper's frame-level head, on exactly stage 8's folds.

Utterance-level heads over the frozen bottleneck (attentive statistics pooling; a learned
mixture of all layers), score-level fusion with eGeMAPS, and the choice among them made on the
validation speakers of the training sessions only.
"""
