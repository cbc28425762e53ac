"""``gdsim sweep run | status | plot``."""

from __future__ import annotations

import json


def _cmd_run(args):
    from gdsim.sweep.engine import run

    scheduler = args.scheduler
    executor = args.executor
    rep = run(args.spec, args.store, executor=executor, workers=args.workers,
              threads_per_worker=args.threads_per_worker, scheduler=scheduler, progress=not args.no_progress,
              verbose=True, max_chunks=args.max_chunks)
    return 0 if rep.complete or args.max_chunks else 1


def _cmd_status(args):
    from gdsim.sweep.engine import status

    st = status(args.store)
    if args.json:
        print(json.dumps(st, indent=2))
        return 0
    pct = 100.0 * st["chunks_done"] / st["chunks_total"]
    axes = " x ".join(f"{k}[{n}]" for k, n in st["axes"].items())
    print(f"{st['name']}  ({st['simulation']}, fingerprint {st['fingerprint']})")
    print(f"  grid      {axes} = {st['points_total']} points; outputs: {', '.join(st['outputs'])}")
    print(f"  done      {st['chunks_done']}/{st['chunks_total']} chunks ({pct:.1f}%), "
          f"{st['points_done']}/{st['points_total']} points")
    if st["chunk_seconds_mean"] is not None and not st["complete"]:
        left = (st["chunks_total"] - st["chunks_done"]) * st["chunk_seconds_mean"]
        print(f"  remaining ~{left:.0f} s of compute on one worker (mean {st['chunk_seconds_mean']:.3f} s/chunk)")
    print("  complete" if st["complete"] else "  incomplete: run the same command again to resume")
    return 0


def _cmd_plot(args):
    from gdsim.repro import use_headless_backend

    use_headless_backend()
    import matplotlib.pyplot as plt

    from gdsim.sweep.engine import open_dataset
    from gdsim.sweep.plot import heatmap

    ds = open_dataset(args.store)
    sel = {}
    for item in args.sel or []:
        axis, eq, value = item.partition("=")
        if not eq or not axis or not value:
            raise ValueError(f"--sel takes AXIS=VALUE (e.g. --sel depth=3); got {item!r}")
        sel[axis.strip()] = value.strip()
    rest = [d for d in ds[args.output].dims if d not in (args.x, args.y, *sel)] if args.output in ds else []
    if rest:
        import sys

        print(f"gdsim sweep plot: {args.reduce} over {', '.join(rest)} (pick one slice with --sel AXIS=VALUE)",
              file=sys.stderr)
    ax = heatmap(ds, args.output, args.x, args.y, reduce=args.reduce, log_x=args.log_x, log_y=args.log_y,
                 log_color=args.log_color, sel=sel)
    out = args.out or f"{ds.attrs['name']}_{args.output}.png"
    ax.figure.savefig(out, dpi=130)
    plt.close(ax.figure)
    print(out)
    return 0


def add_sweep_parser(sub) -> None:
    from gdsim.sweep.executors import EXECUTORS
    from gdsim.sweep.plot import REDUCERS

    p = sub.add_parser("sweep", help="labelled, resumable parameter sweeps (zarr + xarray, Dask)")
    ssub = p.add_subparsers(dest="sweep_cmd", required=True)
    r = ssub.add_parser("run", help="run or resume a sweep spec (TOML) into a zarr store")
    r.add_argument("spec", help="sweep spec, TOML")
    r.add_argument("--store", required=True, help="zarr store path (created, or resumed if it exists)")
    r.add_argument("--scheduler", default=None,
                   help="Dask: 'local' for a LocalCluster on this machine, or a scheduler address tcp://HOST:PORT")
    r.add_argument("--workers", type=int, default=None, help="worker processes (process pool or LocalCluster)")
    r.add_argument("--threads-per-worker", type=int, default=None, help="Numba threads per worker (default 1)")
    r.add_argument("--executor", choices=EXECUTORS, default=None,
                   help="default: dask with --scheduler, processes with --workers > 1, else inprocess")
    r.add_argument("--max-chunks", type=int, default=None, help="stop after this many chunks (resumable)")
    r.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    r.set_defaults(func=_cmd_run)
    s = ssub.add_parser("status", help="what a store holds and how much is done")
    s.add_argument("store", help="zarr store path written by 'gdsim sweep run'")
    s.add_argument("--json", action="store_true", help="print the status as JSON")
    s.set_defaults(func=_cmd_status)
    pl = ssub.add_parser("plot", help="heat map of one output over two axes")
    pl.add_argument("store", help="zarr store path written by 'gdsim sweep run'")
    pl.add_argument("--output", required=True, help="output variable to colour by (see 'gdsim sweep status')")
    pl.add_argument("--x", required=True, help="grid axis on the horizontal axis")
    pl.add_argument("--y", required=True, help="grid axis on the vertical axis")
    pl.add_argument("--sel", action="append", metavar="AXIS=VALUE",
                    help="fix another grid axis at one value (repeatable), e.g. --sel depth=3")
    pl.add_argument("--reduce", choices=REDUCERS, default="mean",
                    help="how to reduce the axes neither plotted nor fixed by --sel (default mean)")
    pl.add_argument("--log-x", action="store_true", help="logarithmic horizontal axis")
    pl.add_argument("--log-y", action="store_true", help="logarithmic vertical axis")
    pl.add_argument("--log-color", action="store_true", help="logarithmic colour scale")
    pl.add_argument("--out", default=None, help="PNG path (default NAME_OUTPUT.png)")
    pl.set_defaults(func=_cmd_plot)
