"""The ``toylab`` command line: ``toylab list | run NAME | export NAME | figures | explore``.

``run`` computes a study (or reuses its cached result), writes ``results.json`` and
``arrays.npz`` under ``OUT/NAME/<config hash>/`` and figures under ``FIGURES/NAME/`` for the
default config, ``FIGURES/NAME/quick/`` for ``--quick`` and ``FIGURES/NAME/<config hash>/`` for
any other config (``--seeds``, ``--set key=value``), so only the default config writes the
paper figures (:func:`toylab.study.figure_dir`). ``export`` writes one offline HTML page per
representative network of a study into that folder's ``html/``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from toylab.results import check_writable, progress, run_label


def _studies():
    from studies import STUDIES, get_study  # imported lazily: studies import the whole lab

    return STUDIES, get_study


def run_study(name: str, *, quick: bool = False, seeds: int | None = None,
              overrides=(), out: Path = Path("results"), figures: Path = Path("figures"),
              force: bool = False):
    """Run (or load) one study and write its figures; returns ``(result, figure paths)``."""
    from toylab.study import run_study as run, study_config

    check_writable(out, argument="--out")
    check_writable(figures, argument="--figures")
    _, get_study = _studies()
    study = get_study(name)
    config = study_config(study, quick=quick, seeds=seeds, overrides=overrides)
    result, paths, reused = run(study, config, results_root=Path(out), figures_root=Path(figures),
                                force=force)
    status = "reused cached" if reused else "computed"
    print(f"{run_label(study.NAME, config)}: {status} result in {result.path}", file=sys.stderr)
    return result, paths


def _format(value) -> str | None:
    """One line for a headline value: ``v [lo, hi] (n=...)`` or a plain scalar."""
    if isinstance(value, dict) and {"value", "ci95", "n"} <= set(value) \
            and isinstance(value["value"], (int, float)):
        lo, hi = value["ci95"]
        text = f"{value['value']:.6g} [{lo:.6g}, {hi:.6g}] (n={value['n']})"
        if "null" in value:
            text += f"; null {value['null']['value']:.6g}"
        return text
    if isinstance(value, (dict, list)):
        return None
    return str(value)


def _cmd_list(args) -> int:
    studies, _ = _studies()
    width = max(len(n) for n in studies)
    for name, module in sorted(studies.items()):
        print(f"{name:<{width}}  {module.DESCRIPTION}")
    return 0


def _cmd_run(args) -> int:
    start = time.perf_counter()
    result, paths = run_study(args.name, quick=args.quick, seeds=args.seeds, overrides=args.set,
                              out=args.out, figures=args.figures, force=args.force)
    for key, value in result.summary.items():
        line = _format(value)
        if line is not None:
            print(f"{key}: {line}")
    for path in paths:
        print(f"figure: {path}")
    print(f"done in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


def _study_process(name: str, args) -> tuple[str, int, float, str]:
    """``toylab run NAME`` with the ``figures`` command's folders in a child process:
    ``(name, exit status, wall seconds, its stderr's last line)``."""
    import subprocess

    command = [sys.executable, "-m", "toylab.cli", "run", name, "--out", str(args.out),
               "--figures", str(args.figures)] + (["--force"] if args.force else [])
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    for line in done.stdout.splitlines():
        if line.startswith("figure: "):
            print(line, flush=True)
    last = (done.stderr.strip().splitlines() or [""])[-1]
    return name, done.returncode, time.perf_counter() - start, last


def _cmd_figures(args) -> int:
    if isinstance(args.jobs, bool) or args.jobs < 1:
        raise ValueError(f"--jobs={args.jobs!r} must be a positive number of studies run at "
                         "once, e.g. 2 (one per core)")
    studies, _ = _studies()
    start = time.perf_counter()
    if args.jobs == 1:
        for name in progress(sorted(studies), desc="studies"):
            _, paths = run_study(name, out=args.out, figures=args.figures, force=args.force)
            for path in paths:
                print(f"figure: {path}")
        print(f"all studies done in {time.perf_counter() - start:.1f} s", file=sys.stderr)
        return 0
    from concurrent.futures import ThreadPoolExecutor

    check_writable(args.out, argument="--out")
    check_writable(args.figures, argument="--figures")
    with ThreadPoolExecutor(args.jobs) as pool:  # threads only wait on the child processes
        runs = list(pool.map(lambda name: _study_process(name, args), sorted(studies)))
    for name, status, seconds, last in runs:
        print(f"{name}: {'ok' if status == 0 else f'FAILED (exit {status})'} in {seconds:.1f} s"
              + ("" if status == 0 else f": {last}"), file=sys.stderr)
    failed = [name for name, status, *_ in runs if status != 0]
    print(f"all studies done in {time.perf_counter() - start:.1f} s ({args.jobs} at once)"
          + (f"; failed: {', '.join(failed)}" if failed else ""), file=sys.stderr)
    return 1 if failed else 0


def export_study(name: str, *, quick: bool = False, seeds: int | None = None, overrides=(),
                 out: Path = Path("results"), figures: Path = Path("figures"),
                 force: bool = False) -> list[Path]:
    """Write one self-contained, offline HTML page per representative network of a study
    (``study.representatives(result)``) under its figure folder's ``html/``."""
    from toylab.explore.static import export_html
    from toylab.study import compute_result, figure_dir, study_config

    check_writable(out, argument="--out")
    check_writable(figures, argument="--figures")
    _, get_study = _studies()
    study = get_study(name)
    if not hasattr(study, "representatives"):
        raise ValueError(f"study {name!r} names no representative networks to export "
                         "(it defines no representatives(result)); export a net yourself with "
                         "toylab.explore.export_html(net, dist, path)")
    config = study_config(study, quick=quick, seeds=seeds, overrides=overrides)
    result, _ = compute_result(study, config, results_root=Path(out), force=force)
    folder = figure_dir(study, config, Path(figures)) / "html"
    folder.mkdir(parents=True, exist_ok=True)
    return [export_html(rep.layers, rep.dist, folder / f"{rep.label}.html",
                        activation=rep.activation, title=f"{study.NAME}: {rep.label}")
            for rep in study.representatives(result)]


def _cmd_export(args) -> int:
    for path in export_study(args.name, quick=args.quick, seeds=args.seeds, overrides=args.set,
                             out=args.out, figures=args.figures, force=args.force):
        print(f"page: {path}")
    return 0


def _cmd_explore(args) -> int:
    from toylab.explore import main as explore  # Bokeh is imported only when it is used

    return explore(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="toylab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the registered studies").set_defaults(func=_cmd_list)
    commands = {"run": ("run one study", _cmd_run),
                "export": ("explorable offline HTML pages of a study's representative networks",
                           _cmd_export),
                "figures": ("run every study (or reuse its cached result) and write its "
                            "paper figures", _cmd_figures)}
    for name, (help_text, func) in commands.items():
        cmd = sub.add_parser(name, help=help_text)
        if name != "figures":
            cmd.add_argument("name", help="study name (see `toylab list`)")
            cmd.add_argument("--quick", action="store_true", help="smoke configuration (< 1 min)")
            cmd.add_argument("--seeds", type=int, default=None, help="number of seeds")
            cmd.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                             help="override a config field, nested with dots "
                                  "(--set train.learning_rate=0.05); repeatable")
        cmd.add_argument("--out", type=Path, default=Path("results"), help="results folder")
        cmd.add_argument("--figures", type=Path, default=Path("figures"), help="figures folder")
        cmd.add_argument("--force", action="store_true", help="recompute even if cached")
        if name == "figures":
            cmd.add_argument("--jobs", type=int, default=1,
                             help="studies run at once, each in its own process (default 1)")
        cmd.set_defaults(func=func)
    cmd = sub.add_parser("explore", help="the exact playground in the browser (127.0.0.1)")
    cmd.add_argument("--port", type=int, default=5006, help="port (0: any free port)")
    cmd.add_argument("--no-browser", action="store_true", help="only print the address")
    cmd.add_argument("--world", type=Path, default=None, help="a mixture in a JSON/TOML file")
    cmd.set_defaults(func=_cmd_explore)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import toylab

    toylab.use_cpu_cores()
    try:
        return args.func(args)
    except (ValueError, TypeError, FloatingPointError) as err:
        print(f"toylab: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        where = f" {err.filename}" if getattr(err, "filename", None) else ""
        print(f"toylab: error:{where}: {err.strerror or err}; check that the path is a "
              "writable folder (--out, --figures)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("toylab: interrupted; cached results are intact", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
