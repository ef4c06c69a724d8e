"""bakeoff: train, compare and serve image classifiers under equal conditions."""

# Importing bakeoff changes nothing in the process: the settings a training process wants (OpenMP's
# wait policy, glibc's heap) are applied by one explicit call, bakeoff.process.configure_process().
__version__ = "0.1.0"
