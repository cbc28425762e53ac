"""The ``gdsim`` command line: list, repro, info, cite, warmup (and sweep)."""

from __future__ import annotations

import argparse
import sys


def _cmd_list(args):
    from gdsim import repro

    rows = []
    for name in repro.names():
        m = repro.load(name)
        rows.append((name, m.TITLE, ", ".join(m.FIGURES), m.RUNTIME["quick"], m.RUNTIME["full"]))
    for name, title, figs, quick, full in rows:
        print(f"{name}\n    {title}\n    figures: {figs}\n    runtime (2 cores): quick {quick}, full {full}")
    return 0


def _cmd_repro(args):
    from gdsim import repro

    targets = repro.names() if args.name == "all" else [args.name]
    if args.name != "all":
        repro.load(args.name)  # validate before any work
    for name in targets:
        repro.run(name, mode=args.mode, out=args.out, seed=args.seed, progress=not args.no_progress)
    return 0


def _cmd_info(args):
    import numba
    import numpy

    import gdsim
    from gdsim._core.cuda import cuda_available, is_cudasim
    from gdsim._core.provenance import environment

    env = environment()
    print(f"gdsim {gdsim.__version__}  numpy {numpy.__version__}  numba {numba.__version__}  python {env['python']}")
    print(f"numba threads: {numba.get_num_threads()} (NUMBA_NUM_THREADS={numba.config.NUMBA_NUM_THREADS}), "
          f"threading layer: {numba.config.THREADING_LAYER} (configured)")
    print(f"git commit: {env['git_commit']}")
    cuda = cuda_available()
    print(f"CUDA: {'available' if cuda else 'not available'}{' (simulator)' if cuda and is_cudasim() else ''}")
    return 0


def _cmd_cite(args):
    from gdsim import repro

    print(repro.load(args.name).BIBTEX.strip())
    return 0


def _cmd_warmup(args):
    from gdsim.warmup import warmup

    seconds = warmup()
    print(f"compiled gdsim kernels in {seconds:.1f} s")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gdsim", description="Exact, fast simulation of gradient-descent theory.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list every reproduction").set_defaults(func=_cmd_list)
    p = sub.add_parser("repro", help="regenerate a paper's figures")
    p.add_argument("name", help="reproduction name (see 'gdsim list') or 'all'")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", dest="mode", action="store_const", const="quick", help="small, fast run (default)")
    g.add_argument("--full", dest="mode", action="store_const", const="full", help="publication resolution")
    p.set_defaults(mode="quick")
    p.add_argument("--out", default="figures", help="output folder (default: figures)")
    p.add_argument("--seed", type=int, default=None, help="seed (default: the embedded one)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=_cmd_repro)
    sub.add_parser("info", help="versions, threads, CUDA availability").set_defaults(func=_cmd_info)
    p = sub.add_parser("cite", help="BibTeX of a reproduction's paper")
    p.add_argument("name")
    p.set_defaults(func=_cmd_cite)
    sub.add_parser("warmup", help="compile and cache the kernels once").set_defaults(func=_cmd_warmup)
    try:
        from gdsim.sweep.cli import add_sweep_parser
    except ImportError:
        pass
    else:
        add_sweep_parser(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"gdsim: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
