"""The ``toylab`` command line: ``toylab list | run NAME | figures``.

``run`` computes a study (or reuses its cached result), writes ``results.json`` and
``arrays.npz`` under ``OUT/NAME/<config hash>/`` and figures under ``FIGURES/NAME/`` (quick runs
under ``FIGURES/NAME/quick/`` so they never overwrite paper figures).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

from toylab.results import RESULTS_ENV, cached_run, progress, run_label


def _studies():
    from studies import STUDIES, get_study  # imported lazily: studies import the whole lab

    return STUDIES, get_study


def study_config(study, *, quick: bool = False, seeds: int | None = None):
    """The config ``toylab run`` uses: full or quick defaults, with ``--seeds`` applied."""
    config = study.Config.quick() if quick else study.Config()
    if seeds is not None:
        if seeds <= 0:
            raise ValueError(f"--seeds {seeds} must be a positive number of seeds")
        config = dataclasses.replace(config, seeds=seeds)
    return config


def run_study(name: str, *, quick: bool = False, seeds: int | None = None,
              out: Path = Path("results"), figures: Path = Path("figures"),
              force: bool = False) -> tuple[object, list[Path]]:
    """Run (or load) one study and write its figures; returns ``(result, figure paths)``."""
    _, get_study = _studies()
    study = get_study(name)
    config = study_config(study, quick=quick, seeds=seeds)
    os.environ[RESULTS_ENV] = str(out)  # sweep studies cache their cells under --out too
    result, reused = cached_run(study.NAME, config, study.compute, out=Path(out), force=force)
    fig_dir = Path(figures) / study.NAME / ("quick" if quick else "")
    paths = study.make_figures(result, fig_dir)
    status = "reused cached" if reused else "computed"
    print(f"{run_label(study.NAME, config)}: {status} result in {result.path}", file=sys.stderr)
    return result, paths


def _cmd_list(args) -> int:
    studies, _ = _studies()
    width = max(len(n) for n in studies)
    for name, module in sorted(studies.items()):
        print(f"{name:<{width}}  {module.DESCRIPTION}")
    return 0


def _cmd_run(args) -> int:
    start = time.perf_counter()
    result, paths = run_study(args.name, quick=args.quick, seeds=args.seeds, out=args.out,
                              figures=args.figures, force=args.force)
    for key, value in result.summary.items():
        if not isinstance(value, (dict, list)):
            print(f"{key}: {value}")
    for path in paths:
        print(f"figure: {path}")
    print(f"done in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


def _cmd_figures(args) -> int:
    studies, _ = _studies()
    for name in progress(sorted(studies), desc="studies"):
        _, paths = run_study(name, out=args.out, figures=args.figures, force=args.force)
        for path in paths:
            print(f"figure: {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="toylab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the registered studies").set_defaults(func=_cmd_list)
    for name, help_text in (("run", "run one study"),
                            ("figures", "regenerate every paper figure from cached results")):
        cmd = sub.add_parser(name, help=help_text)
        if name == "run":
            cmd.add_argument("name", help="study name (see `toylab list`)")
            cmd.add_argument("--quick", action="store_true", help="smoke configuration (< 1 min)")
            cmd.add_argument("--seeds", type=int, default=None, help="number of seeds")
        cmd.add_argument("--out", type=Path, default=Path("results"), help="results folder")
        cmd.add_argument("--figures", type=Path, default=Path("figures"), help="figures folder")
        cmd.add_argument("--force", action="store_true", help="recompute even if cached")
        cmd.set_defaults(func=_cmd_run if name == "run" else _cmd_figures)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FloatingPointError) as err:
        print(f"toylab: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("toylab: interrupted; cached results are intact", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
