"""Shared pieces of the benchmark peers: argument parsing, a synthetic window, timing, JSON out."""
import argparse
import json
import os
import resource
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))


def arguments(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--weights", required=True, help="state_dict in safetensors (tools/lcovnet_reference.py names)")
    p.add_argument("--window", type=int, nargs=3, default=[64, 160, 160], metavar=("D", "H", "W"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--cache", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".cache", "bench"))
    return p.parse_args()


def window(shape, seed=0):
    """Smooth structure plus noise, roughly z-scored, as 1x1xDxHxW float32."""
    d, h, w = shape
    z, y, x = np.meshgrid(np.arange(d), np.arange(h), np.arange(w), indexing="ij")
    rng = np.random.default_rng(seed)
    v = np.sin(z * 0.21 + seed) * np.cos(y * 0.13) + np.sin(x * 0.09 + y * 0.05) + rng.standard_normal((d, h, w)) * 0.4
    return v.astype(np.float32).reshape(1, 1, d, h, w)


CPU_TIMES = []


def time_runs(run, repeat):
    """One untimed warm-up, then `repeat` timed runs: wall seconds (returned) and process CPU
    seconds over all threads (kept in CPU_TIMES; steadier on a shared machine)."""
    run()
    times = []
    CPU_TIMES.clear()
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        run()
        times.append(time.perf_counter() - start)
        CPU_TIMES.append(time.process_time() - cpu)
    return times


def report(peer, args, times, **extra):
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peer": peer, "threads": args.threads, "window": args.window, "seconds": times, "cpu_seconds": list(CPU_TIMES),
                      "peak_rss_mib": round(peak_mib), **extra}))
