"""Population quantities of exactly partitioned networks under a 2-D Gaussian mixture.

* :mod:`~toylab.exact.population.moments`: :class:`PopulationPartition` (a partition under a
  distribution, its region moments integrated once) and the quantities read from it: region
  masses, accuracy, risk, excess risk, region counts, neuron moments.
* :mod:`~toylab.exact.population.bayes`: the Bayes decision boundary as segments and its
  Hausdorff distance to the learned one.
"""

from toylab.exact.population.bayes import (
    BayesSegments,
    BoundaryDistance,
    bayes_segments,
    hausdorff_to_bayes,
)
from toylab.exact.population.moments import (
    DEFAULT_MASS_OUTSIDE,
    Exact,
    LayerMoments,
    PopulationPartition,
    RegionMasses,
    as_population,
    check_input_plane,
    class_conditional_means,
    domain_mass_outside,
    excess_risk,
    layer_moments,
    neuron_correlation,
    neuron_covariance,
    neuron_expectation,
    neuron_variance,
    population_accuracy,
    population_partition,
    population_risk,
    region_masses,
    regions_carrying,
)

__all__ = [
    "BayesSegments", "BoundaryDistance", "DEFAULT_MASS_OUTSIDE", "Exact", "LayerMoments",
    "PopulationPartition", "RegionMasses", "as_population", "bayes_segments",
    "check_input_plane", "class_conditional_means", "domain_mass_outside", "excess_risk",
    "hausdorff_to_bayes", "layer_moments", "neuron_correlation", "neuron_covariance",
    "neuron_expectation", "neuron_variance", "population_accuracy", "population_partition",
    "population_risk", "region_masses", "regions_carrying",
]
