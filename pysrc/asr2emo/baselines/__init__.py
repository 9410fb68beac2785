"""Baselines on exactly the cross-validation folds of stage 8.

eGeMAPS functionals + SVM, hires-MFCC statistics + logistic regression and offline i-vectors +
logistic regression (scikit-learn pipelines standardized on the training fold only), and the
transfer system's TDNN-F + head trained from scratch on the emotion data; all scored with stage
8's metrics and compared fold by fold with the transfer system.
"""
