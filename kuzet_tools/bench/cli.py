"""``kuzet bench [all|edge|campus]``: one JSON document on stdout, each figure beside its
target and a ``pass`` map; exit 1 if any target is missed. ``kuzet_tools/bench/edge.py`` and
``kuzet_tools/bench/campus.py`` (the hub's benchmark) say what each part measures."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kuzet_tools.bench.edge import bench_edge


def register(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser("bench", help="benchmarks, printed as JSON (example: kuzet bench "
                           "edge --json)")
    bench.add_argument("target", nargs="?", default="all", choices=["all", "edge", "campus"],
                       help="what to measure (default: all, one JSON document); campus: "
                       "buildings' hubs and brokers bridged to a campus broker, see "
                       "kuzet_tools/bench/campus.py")
    bench.add_argument("--json", action="store_true", help="print JSON (the default)")
    bench.add_argument("--seconds", type=float, default=None,
                       help="edge: how long the pipeline runs (default 40)")
    bench.add_argument("--minutes", type=float, default=3.0,
                       help="campus: minutes of exam load (default 3; a full exam-hour: 60)")
    bench.add_argument("--buildings", type=int, default=10,
                       help="campus: buildings, each its own broker and hub (default 10)")
    bench.add_argument("--rooms", type=int, default=20,
                       help="campus: rooms per building, one node each (default 20)")
    bench.add_argument("--sweeps", type=int, default=10,
                       help="edge: sweeps counted for the one-core CPU figures on each "
                       "footage (default 10; 0 leaves them out)")
    bench.add_argument("--plot", default="var/bench.png",
                       help="PNG of throughput and latency over the run (default "
                       "var/bench.png; '' for none)")
    bench.set_defaults(func=_bench)


def _bench(args) -> int:
    series: dict = {}
    results: dict = {}
    if args.target in ("all", "edge"):
        results["edge"] = bench_edge(args.seconds or 40.0, series=series,
                                     sweeps=args.sweeps)
    if args.target in ("all", "campus"):
        from kuzet_tools.bench.campus import bench_campus  # the hub's extra may be absent

        results["campus"] = bench_campus(args.minutes, args.buildings, args.rooms,
                                         series=series)
    result = results[args.target] if args.target != "all" else {
        **results, "pass": {f"{k}.{p}": ok for k, r in results.items()
                            for p, ok in r["pass"].items()}}
    if args.plot:
        result["plot"] = plot(series, Path(args.plot))
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0 if all(result["pass"].values()) else 1


def plot(series: dict, path: Path) -> str:
    """Throughput and latency over the run, one panel each, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [k for k in ("edge", "ingest", "latency") if series.get(k)]
    fig, axes = plt.subplots(len(panels) or 1, 1, figsize=(8, 2.8 * max(1, len(panels))),
                             squeeze=False)
    for ax, key in zip(axes[:, 0], panels, strict=False):
        xs, ys = zip(*series[key], strict=True)
        if key == "edge":
            rates = [(ys[i] - ys[i - 1]) / max(1e-9, xs[i] - xs[i - 1])
                     for i in range(1, len(xs))]
            ax.plot(xs[1:], rates)
            ax.set_ylabel("looks / s")
            ax.set_title("edge: detector looks per second (30-seat map, vtest.avi)")
        elif key == "ingest":
            ax.plot(xs, ys)
            ax.set_ylabel("alerts stored")
            ax.set_title("hub: alerts with evidence stored over the ingest run")
        else:
            ax.plot(xs, ys, ".", markersize=3)
            ax.set_ylabel("ms")
            ax.set_title("campus: publish-to-live-page latency per alert (building hubs)")
        ax.set_xlabel("seconds")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return str(path)
