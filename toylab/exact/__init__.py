"""Exact analysis of piecewise-linear networks over 2-D input space (see DESIGN.md)."""

from toylab.exact.geometry import DEFAULT_BOX
from toylab.exact.partition import LinePartition, Partition, partition, partition_line
from toylab.exact.boundary import (
    ClassCells,
    Extrema,
    RegionStats,
    class_cells,
    class_regions,
    decision_boundary,
    fold_length,
    fold_lengths,
    folds,
    neuron_extrema,
    region_stats,
    superlevel_area,
)
from toylab.exact.gaussian import (
    LineMoments,
    Moments,
    mixture_polygon_moments,
    mixture_segment_moments,
    normal_mass,
    polygon_moments,
    standard_line_integrals,
)
from toylab.exact.population import (
    BayesSegments,
    BoundaryDistance,
    Exact,
    LayerMoments,
    PopulationPartition,
    RegionMasses,
    as_population,
    bayes_segments,
    class_conditional_means,
    excess_risk,
    hausdorff_to_bayes,
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
