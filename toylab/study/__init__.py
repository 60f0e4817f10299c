"""The study harness: one way to define, run, cache and plot a study.

- :mod:`toylab.study.config`: nested configs (``World``), ``config_from_dict``,
  ``apply_overrides`` (``toylab run NAME --set train.learning_rate=0.05``);
- :mod:`toylab.study.cells`: ``TrainCell``, the config bases ``WorldsConfig`` /
  ``EnsembleConfig`` and ``Context.train_cells`` (cells trained through :mod:`toylab.sweep`,
  each cached);
- :mod:`toylab.study.storage`: ``save_layers`` / ``load_layers`` (one meaning of a member);
- :mod:`toylab.study.stats`: headline objects with bootstrap intervals, pair-aware intervals,
  threshold sweeps, slopes, multiple-comparison corrections;
- :mod:`toylab.study.runner`: the study protocol, ``run_study``, ``write_figures`` (house
  style, PDF + PNG) and where figures go.
"""

from toylab.study.cells import (SAMPLINGS, AnalysedCell, Context, EnsembleConfig, TrainCell,
                                WorldsConfig, cell_arrays, member_arrays, sample_seed, train_cells)
from toylab.study.config import World, apply_overrides, config_from_dict, config_keys
from toylab.study.runner import (Representative, compute_result, config_of, figure_dir, run_study,
                                 study_config, write_figures)
from toylab.study.stats import (
    adjust_pvalues,
    bootstrap_ci,
    headline,
    pair_bootstrap_ci,
    pair_headline,
    slope_headline,
    threshold_sweep,
)
from toylab.study.storage import kept_members, load_layers, n_members, save_layers, stack_members

__all__ = [
    "Representative", "SAMPLINGS", "AnalysedCell", "Context", "EnsembleConfig", "TrainCell", "World", "adjust_pvalues", "apply_overrides",
    "bootstrap_ci", "cell_arrays", "compute_result", "config_from_dict", "config_keys",
    "config_of", "figure_dir", "headline", "kept_members", "load_layers", "member_arrays",
    "n_members",
    "pair_bootstrap_ci", "pair_headline", "run_study", "sample_seed", "save_layers",
    "slope_headline", "stack_members", "study_config", "threshold_sweep", "train_cells",
    "WorldsConfig", "write_figures",
]
