"""Cross-cutting analyses: neurons compared with decision and Bayes boundaries, with the data
distribution, with sampled interpretability tools, and across seeds (DESIGN.md, ``compare``).

Modules:

* :mod:`toylab.compare.neurons` -- every neuron's exact response function against the class
  log-odds, component log-densities and signed distances to the Bayes and learned decision
  boundaries, its fold geometry, and a classification into neuron kinds;
* :mod:`toylab.compare.region_quadrature` -- per-region moments of non-polynomial targets under
  a mixture (adaptive Gauss-Legendre quadrature on the triangles of a partition);
* :mod:`toylab.compare.featureviz` -- gradient-ascent feature visualisation and top-k dataset
  examples against the exact maximiser, superlevel sets and quantile sets;
* :mod:`toylab.compare.landscape_neurons` -- the exact first-order change of neurons, decision
  boundary, folds and population accuracy along a parameter direction, weighted by the data;
* :mod:`toylab.compare.universality` -- exact cross-network neuron correlations from the
  joint partition of two networks, Hungarian matching and fold distances;
* :mod:`toylab.compare.editing` -- ablation and pruning, with their exact effects;
* :mod:`toylab.compare.regions` -- linear-region counts against grid checks and theory.

Each module's public names are re-exported here.
"""

from toylab.compare.editing import (
    ABLATIONS,
    Clusterability,
    EditEffect,
    FunctionDistance,
    JointNetwork,
    ablate,
    cluster_alignment,
    clusterability,
    constant_neurons,
    edit_effect,
    function_distance,
    hidden_neurons,
    joint_network,
    normalized_cut,
    population_risk_of,
    prune,
    pruning_thresholds,
    replace_neuron,
    shuffle_weights,
    spectral_clusters,
    weight_graph,
)

from toylab.compare.regions import (
    GridPatterns,
    PowerLaw,
    RegionCount,
    arrangement_regions,
    grid_patterns,
    hanin_rolnick_network,
    pattern_of,
    power_law,
    region_count,
    serra_bound,
)

from toylab.compare.landscape_neurons import (
    DirectionMotion,
    FirstOrderChange,
    Participation,
    SegmentIntegrals,
    clip_to_box,
    direction_motion,
    first_order_change,
    fold_velocity,
    participation,
    segment_integrals,
)

from toylab.compare.neurons import (
    BAYES_TRACE_TOL,
    KINDS,
    Kinds,
    KindThresholds,
    NeuronProfile,
    Targets,
    classify,
    fold_depth,
    fold_distance,
    kind_fractions,
    neuron_profile,
    targets,
)

from toylab.compare.region_quadrature import (
    RegionIntegrals,
    TriangleRule,
    fan_triangles,
    region_integrals,
    subdivide,
    triangle_rule,
)

from toylab.compare.featureviz import (
    NeuronScores,
    TopQuantile,
    distance_to_set,
    feature_visualisation,
    mass_in,
    score_neurons,
    superlevel_polygons,
    top_examples,
    top_quantile,
)

from toylab.compare.universality import (
    CrossCorrelation,
    Matching,
    cross_correlations,
    fold_hausdorff,
    match_neurons,
    parallel_network,
)
