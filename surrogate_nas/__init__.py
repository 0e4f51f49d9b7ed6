"""surrogate_nas: meta-learned surrogate predictors that steer neural architecture search."""

__version__ = "0.1.0"
