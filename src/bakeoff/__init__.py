"""bakeoff: train, compare and serve image classifiers under equal conditions."""

__version__ = "0.1.0"
