"""gdlab: machine-learning models trained by gradient descent, written from scratch in NumPy."""

__version__ = "0.1.0"
