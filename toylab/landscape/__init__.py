"""Loss landscapes of tiny nets: exact Hessians, spectra, subspaces, slices, neurons.

Everything here lives in parameter space: no partition of the input is needed (how a
direction moves boundaries and folds in input space is :mod:`toylab.compare.landscape_neurons`).

Submodules (one stage each, pure functions in, NamedTuples out):

- :mod:`~toylab.landscape.problem`: the loss as a function of the flat parameter vector,
  gradient, population loss (a stated Monte Carlo estimate with standard error).
- :mod:`~toylab.landscape.curvature`: exact Hessian / Gauss-Newton / empirical Fisher
  (chunked HVPs of basis vectors, or layer-factored Gauss-Newton + closed-form residual blocks
  for piecewise-linear nets) and their matrix-free products.
- :mod:`~toylab.landscape.spectra`: eigendecomposition, Lanczos top-k (ARPACK), stochastic
  Lanczos quadrature, residual norms of eigenpairs (matrix-free paths in ``O(P)`` memory).
- :mod:`~toylab.landscape.regionrank`: the full exact Hessian spectrum from the projected
  eigenproblem on the range that the occupied linear regions and the residual's layer blocks
  span (much smaller than ``P`` when the data occupy few regions).
- :mod:`~toylab.landscape.decompose`: ``H = G + R``, Papyan's class structure of ``G``.
- :mod:`~toylab.landscape.subspace`: outliers, gradient / top-subspace overlap (Gur-Ari et
  al. 2018) at a point and along a trajectory.
- :mod:`~toylab.landscape.neurons`: directions attributed to neurons by parameter index;
  the rescaling-symmetry tangent of a neuron.
- :mod:`~toylab.landscape.slices`: 1-D/2-D slices, filter normalisation, linear paths,
  trajectory projections.

Everything is float64 (public functions enable 64-bit JAX for their own duration only).
"""

from toylab.landscape.curvature import (
    CURVATURES,
    MATRIX_METHODS,
    MAX_BYTES,
    OUTPUT_FACTORS,
    curvature_matrix,
    curvature_operator,
    hessian,
    matrix_bytes,
)
from toylab.landscape.decompose import (
    ClassStructure,
    GaussNewtonSplit,
    class_structure,
    empirical_fisher,
    gauss_newton_split,
    means_term,
)
from toylab.landscape.neurons import (
    NeuronMass,
    neuron_mass,
    neuron_shares,
    neuron_table,
    participation_ratio,
    rescaling_direction,
    subspace_mass,
)
from toylab.landscape.problem import (
    PopulationLoss,
    flat_loss,
    gradient,
    loss_value,
    population_loss,
)
from toylab.landscape.regionrank import (
    PROJECTED_BELOW,
    SPECTRUM_METHODS,
    RangeSize,
    hessian_spectrum,
    projected_bytes,
    projected_spectrum,
    range_size,
)
from toylab.landscape.slices import (
    LinearPath,
    LossSlice,
    TrajectoryPCA,
    filter_normalize,
    linear_path,
    loss_slice,
    project_trajectory,
    random_direction,
    trajectory_pca,
)
from toylab.landscape.spectra import (
    TOP_EIGEN_METHODS,
    SpectralDensity,
    Spectrum,
    eigendecomposition,
    eigh_bytes,
    lanczos_bytes,
    lanczos_tridiagonal,
    residual_norms,
    spectral_density,
    top_eigen,
)
from toylab.landscape.subspace import (
    GradientOverlap,
    TrajectoryOverlap,
    captured_fraction,
    count_outliers,
    gradient_overlap,
    subspace_overlap,
    top_subspace_overlap,
    trajectory_overlap,
)

__all__ = [
    "CURVATURES", "MATRIX_METHODS", "MAX_BYTES", "OUTPUT_FACTORS", "PROJECTED_BELOW",
    "SPECTRUM_METHODS", "TOP_EIGEN_METHODS", "RangeSize",
    "ClassStructure", "GaussNewtonSplit", "GradientOverlap", "LinearPath", "LossSlice",
    "NeuronMass", "PopulationLoss", "SpectralDensity", "Spectrum", "TrajectoryOverlap",
    "TrajectoryPCA",
    "captured_fraction", "class_structure", "count_outliers", "curvature_matrix",
    "curvature_operator", "eigendecomposition", "eigh_bytes", "empirical_fisher",
    "filter_normalize", "flat_loss", "gauss_newton_split", "gradient", "gradient_overlap",
    "hessian", "hessian_spectrum", "lanczos_bytes", "lanczos_tridiagonal", "linear_path", "loss_slice", "loss_value",
    "matrix_bytes", "means_term", "neuron_mass", "neuron_shares", "neuron_table",
    "participation_ratio", "population_loss", "project_trajectory", "projected_bytes",
    "projected_spectrum", "random_direction", "range_size",
    "rescaling_direction", "residual_norms", "spectral_density", "subspace_mass", "subspace_overlap", "top_eigen",
    "top_subspace_overlap", "trajectory_overlap", "trajectory_pca",
]

