"""Corpus preparation: readers of the real corpora and the synthetic demo corpora."""
