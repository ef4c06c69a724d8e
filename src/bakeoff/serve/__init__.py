"""Serving: photo preprocessing, the predictor, the web app and model export (`bakeoff predict/serve/export`)."""
