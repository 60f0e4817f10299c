"""toylab: a toy-model theory laboratory.

Tiny JAX networks trained on analytic low-dimensional distributions, with every neuron's
response function computed exactly. See DESIGN.md for the architecture.
"""

from toylab.models import ACTIVATIONS, MLP, activations, apply, flatten, param_index, unflatten

__all__ = ["ACTIVATIONS", "MLP", "activations", "apply", "flatten", "param_index", "unflatten"]
__version__ = "0.1.0"
