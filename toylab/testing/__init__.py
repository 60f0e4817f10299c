"""Hypothesis strategies for property tests of theory claims, for toylab and its users.

A theory claim ("for any two-class equal-covariance mixture, no network beats the Bayes
risk", "the Hessian is equivariant under neuron permutations") becomes a property test over
generated worlds::

    from hypothesis import given
    from toylab import testing as tt

    @given(tt.distributions(max_classes=2, shared_covariance=True), tt.networks(output_dim=2))
    def test_no_network_beats_bayes(dist, net):
        ...

Strategies by kind (submodules :mod:`~toylab.testing.worlds`, :mod:`~toylab.testing.nets`,
:mod:`~toylab.testing.trained`; profiles in :mod:`~toylab.testing.profiles`), all public, all
validating their bounds eagerly with a ``ValueError`` naming the argument for impossible
ones:

- :func:`distributions`: :class:`toylab.data.GaussianMixture` s with bounded dimension,
  classes, components, separation and condition number; near-degenerate worlds (coincident
  means of different classes, nearly singular covariances) unless ``degenerate=False``.
- :func:`networks`: :class:`Network` layer lists of given sizes and activations, with
  degenerate weights (dead neurons, silent neurons, duplicated and parallel neurons, exact
  zeros, weights on a coarse dyadic grid so that hyperplanes meet in common points).
- :func:`domains`: convex 2-D domains (boxes and polygons; thin ones when degenerate).
- :func:`parameter_directions`: unit directions in a network's flat parameter space.
- :func:`trained_networks`: :class:`TrainedNetwork` s trained with
  :func:`toylab.train.train_ensemble` on a small fixed set of shapes, so compiled programs are
  reused and each trained network is cached.

Continuous details (means, rotations, weights) come from a NumPy generator seeded by a drawn
integer; the structural choices (sizes, degeneracies, bounds) are drawn by hypothesis and
shrink towards the simplest world.

Requires hypothesis (the ``test`` extra: ``pip install -e '.[test]'``); ``import toylab`` does
not import this module.

Profiles. :data:`PROFILES` defines ``ci`` (default), ``dev`` and ``thorough``;
:func:`load_profile` registers them and loads the one named by ``HYPOTHESIS_PROFILE``.
toylab's own ``tests/conftest.py`` calls it. See ``docs/property-testing.md``.
"""

from toylab.models import PIECEWISE_LINEAR
from toylab.testing.nets import (
    DEGENERACIES,
    DIRECTIONS,
    DYADIC_STEP,
    Network,
    networks,
    parameter_directions,
)
from toylab.testing.profiles import DEFAULT_PROFILE, PROFILE_ENV, PROFILES, load_profile
from toylab.testing.trained import TrainedNetwork, trained_networks
from toylab.testing.worlds import (
    MIN_SPREAD_RATIO,
    TINY_SEPARATION,
    distributions,
    domains,
)

__all__ = [
    "DEFAULT_PROFILE", "DEGENERACIES", "DIRECTIONS", "DYADIC_STEP", "MIN_SPREAD_RATIO",
    "Network", "PIECEWISE_LINEAR", "PROFILES", "PROFILE_ENV", "TINY_SEPARATION",
    "TrainedNetwork", "distributions", "domains", "load_profile", "networks",
    "parameter_directions", "trained_networks",
]
