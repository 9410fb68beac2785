"""Dimensional emotion: valence, arousal and dominance regression from the
ASR bottleneck frames on stage 8's folds, scored with CCC, Pearson r and MSE against a
mean predictor and an eGeMAPS + ridge regression baseline."""
