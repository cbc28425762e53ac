"""The ``gdsim`` command line: list, repro, info, cite, warmup (and sweep)."""

from __future__ import annotations

import argparse
import sys


def _cmd_list(args):
    from gdsim import repro

    names = repro.names()
    total, n_measured = 0.0, 0
    for name in names:
        m = repro.load(name)
        figs = []
        for fig_id in m.FIGURES:
            stem = repro.figure_stem(name, fig_id, args.out)
            figs.append(f"{fig_id} ({stem}.png)" if stem and stem != fig_id else fig_id)
        measured = repro.measured_runtime(name, args.out)
        if measured:
            total += measured[0]
            n_measured += 1
        runtime = (f"{measured[0]:.0f} s measured ({measured[1]} mode, sidecars in {args.out})" if measured
                   else f"not measured yet (run 'gdsim repro {name}')")
        print(f"{name}\n    {m.TITLE}\n    figures: {', '.join(figs)}\n    runtime: {runtime}")
    print(f"total measured: {total / 60:.1f} min for {n_measured} of {len(names)} reproductions (each as its last "
          f"run recorded it in {args.out}; compile times included)")
    return 0


def _cmd_repro(args):
    from gdsim import repro

    targets = repro.names() if args.name == "all" else [args.name]
    if args.name != "all":
        repro.load(args.name)  # validate before any work
    for name in targets:
        repro.run(name, mode=args.mode, out=args.out, seed=args.seed, progress=not args.no_progress)
    return 0


def threading_layer() -> str:
    """The Numba threading layer actually in use (a tiny parallel kernel runs first to initialise it)."""
    import numba
    import numpy as np

    try:
        return numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet in this process: run one
        pass

    _parallel_touch(np.zeros(4))
    return numba.threading_layer()


def _parallel_touch(x):
    """A trivial parallel kernel (compiled on first use): running it initialises Numba's threading layer."""
    global _parallel_touch
    import numba

    from gdsim._core.jit import jit

    @jit(parallel=True, cache=False)
    def touch(x):
        for i in numba.prange(x.shape[0]):
            x[i] += 1.0
        return x

    _parallel_touch = touch
    return touch(x)


def _cmd_info(args):
    import numba
    import numpy

    import gdsim
    from gdsim._core.cuda import cuda_available, is_cudasim
    from gdsim._core.provenance import environment

    layer = threading_layer()
    env = environment()
    print(f"gdsim {gdsim.__version__}  numpy {numpy.__version__}  numba {numba.__version__}  python {env['python']}")
    print(f"numba threads: {numba.get_num_threads()} (NUMBA_NUM_THREADS={numba.config.NUMBA_NUM_THREADS}), "
          f"threading layer: {layer} (in use; configured: {numba.config.THREADING_LAYER})")
    print(f"source: {env['source']}")
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
    p = sub.add_parser("list", help="list every reproduction: its figures (the files written) and measured runtime")
    p.add_argument("--out", default="figures",
                   help="folder whose JSON sidecars hold the written files and measured runtimes (default: figures)")
    p.set_defaults(func=_cmd_list)
    # the run flags come from gdsim.repro.arg_parser, as for ``python paper_repro/<name>.py``
    from gdsim.repro import arg_parser as repro_arg_parser

    p = sub.add_parser("repro", help="regenerate a paper's figures", parents=[repro_arg_parser(add_help=False)])
    p.add_argument("name", help="reproduction name (see 'gdsim list') or 'all'")
    p.set_defaults(func=_cmd_repro)
    sub.add_parser("info", help="versions, threads, CUDA availability").set_defaults(func=_cmd_info)
    p = sub.add_parser("cite", help="BibTeX of a reproduction's paper")
    p.add_argument("name", help="reproduction name (see 'gdsim list')")
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
        rc = args.func(args) or 0
        sys.stdout.flush()  # inside the try: a closed pipe surfaces here, not at interpreter exit
        return rc
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"gdsim: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader went away (``gdsim cite X | head``): stop quietly, as Unix tools do. Point stdout at
        # devnull so that the interpreter's final flush does not raise a second time.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, the shell's status for a closed pipe


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
