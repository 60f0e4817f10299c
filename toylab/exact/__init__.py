"""Exact analysis of piecewise-linear networks over 2-D input space (see DESIGN.md)."""

from toylab.exact.geometry import DEFAULT_BOX
from toylab.exact.partition import LinePartition, Partition, partition, partition_line
from toylab.exact.boundary import (
    Extrema,
    RegionStats,
    class_regions,
    decision_boundary,
    fold_length,
    fold_lengths,
    folds,
    neuron_extrema,
    region_stats,
    superlevel_area,
)
