"""Measurements of finished models, from their checkpoints: calibration, robustness under corruption, Grad-CAM,
the autoencoder's views, accuracy on a folder of real photos. Nothing here trains or chooses."""
