"""The model zoo. Importing this package registers every model family."""
from . import autoencoder, cnn, efficientnet, fastnet, mlp, resnet, resnet_imagenet, vgg  # noqa: F401  (registers)
from .registry import (
    create_model,
    has_trait,
    is_model,
    list_models,
    model_doc,
    models_with,
    register_model,
)

__all__ = ["create_model", "has_trait", "is_model", "list_models", "model_doc", "models_with", "register_model"]
