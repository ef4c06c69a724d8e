"""Datasets: one module per source format, all returning the same in-memory `Dataset`."""
from .dataset import Dataset
from .registry import DATASET_NAMES, DATASETS, describe_datasets, load_dataset
from .splits import stratified_indices, train_val_split

__all__ = ["Dataset", "DATASETS", "DATASET_NAMES", "describe_datasets", "load_dataset", "stratified_indices",
           "train_val_split"]
