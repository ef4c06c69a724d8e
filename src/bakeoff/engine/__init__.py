"""Training engine: one loop for train / validation / test, apart from the models."""
