#!/usr/bin/env python3
"""Writes le_2_3_2_vector.json: the reference cases of le_2_3_2_vector.py at full float64 precision.

The reference script prints 10 decimals; the model tests compare steps 1-3 to 1e-12, so they read
the exact rational results, converted to the nearest float64, from this file instead.
Run: python3 dump_le_2_3_2.py > le_2_3_2_vector.json
"""
import json
from fractions import Fraction

import le_2_3_2_vector as ref


def plain(x):
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    return float(x)


def steps(log):
    out = []
    for t, u, ub, r, e, W, b in log:
        out.append({"step": t, "u": plain(u), "ub": plain(ub), "r": plain(r), "e": plain(e),
                    "W": plain(W), "b": plain(b)})
    return out


def config(cfg):
    return {k: plain(cfg[k]) for k in ("tau_m", "tau_r", "dt", "beta", "eta", "x", "y", "W", "b")} | {
        "error_source": "tau_r" if cfg.get("prosp_rate_errors") else "tau_m"}


base = ref.base
B = dict(base, tau_r=Fraction(6))
C = dict(base, tau_r=Fraction(0), prosp_rate_errors=True)
D = dict(base, eta=[Fraction(0), Fraction(0)])
cases = {
    "A": {"config": config(base), "exact": steps(ref.run(base, 3, report_steps=(1, 2, 3))),
          "float": steps(ref.run(ref.as_float(base), 100, report_steps=(100,)))},
    "B": {"config": config(B), "exact": steps(ref.run(B, 3, report_steps=(3,)))},
    "C": {"config": config(C), "exact": steps(ref.run(C, 3, report_steps=(3,)))},
    "D": {"config": config(D), "float": steps(ref.run(ref.as_float(D), 60, report_steps=(60,)))},
}
print(json.dumps(cases, indent=1))
