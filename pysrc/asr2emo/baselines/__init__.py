"""Classical baselines on exactly the cross-validation folds of stage 8 (issue 7, item 1).

eGeMAPS functionals + SVM, hires-MFCC statistics + logistic regression and offline i-vectors +
logistic regression, each a scikit-learn pipeline standardized on the training fold only, scored
with stage 8's metrics, and compared fold by fold with the transfer system.
"""
