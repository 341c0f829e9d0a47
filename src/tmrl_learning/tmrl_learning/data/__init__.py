"""OGBench data for tmrl: local dataset generation, the dataset file layout, out-of-distribution
splits and goal-conditioned (vector) environments."""

from tmrl_learning.data.dataset import Dataset, DatasetError, load_dataset, save_dataset

__all__ = ["Dataset", "DatasetError", "load_dataset", "save_dataset"]
