"""The model zoo. Importing this package registers every model family."""
from .registry import create_model, has_trait, is_model, list_models, model_doc, models_with, register_model
from . import mlp, cnn, resnet, fastnet, vgg, resnet_imagenet, efficientnet, autoencoder  # noqa: F401  (registers)

__all__ = ["create_model", "has_trait", "is_model", "list_models", "model_doc", "models_with", "register_model"]
