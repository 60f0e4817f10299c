"""toylab: a toy-model theory laboratory.

Tiny JAX networks trained on analytic low-dimensional distributions, with every neuron's
response function computed exactly. See DESIGN.md for the architecture.
"""

import os

# Tiny networks mean tiny matrices, where threaded BLAS only adds synchronisation cost
# (10-100x slower on busy cores). Applies when toylab is imported before NumPy; set
# OPENBLAS_NUM_THREADS yourself to override.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from toylab.data import DISTRIBUTIONS, BayesError, GaussianMixture, Sample, make
from toylab.models import ACTIVATIONS, MLP, activations, apply, flatten, param_index, unflatten
from toylab.train import TrainConfig, TrainResult, train_ensemble

__all__ = [
    "ACTIVATIONS", "DISTRIBUTIONS", "MLP", "BayesError", "GaussianMixture", "Sample",
    "TrainConfig", "TrainResult", "activations", "apply", "flatten", "make", "param_index",
    "train_ensemble", "unflatten",
]
__version__ = "0.1.0"
