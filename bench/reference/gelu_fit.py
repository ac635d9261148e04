#!/usr/bin/python3
"""Fit the polynomial P of internal/kernel/gelu.go.

The GELU kernels compute erfc(a) = exp(-a^2) * t * P(t) with t = 1/(1 + a/2),
so P(t) = erfcx(a)/t. This script fits P, of degree 14, by least squares on
Chebyshev nodes of t in (0, 1], weighted by 1/P (relative error), checks the
largest relative error of the float64 evaluation against mpmath at 40
digits on a dense grid of a in [0, 1e30], and prints the coefficients,
highest degree first, as Go hex literals.

Run with Debian's numpy, scipy and mpmath:

    /usr/bin/python3 bench/reference/gelu_fit.py
"""

import mpmath
import numpy as np
from scipy.special import erfcx

P_SCALE = 0.5  # t = 1/(1 + P_SCALE*a)
DEGREE = 14
NODES = 6000


def target(t):
    a = (1 / t - 1) / P_SCALE
    return erfcx(a) / t


def fit():
    k = np.arange(NODES)
    t = 0.5 * (1 - np.cos(np.pi * (k + 0.5) / NODES))
    y = target(t)
    c = np.polynomial.chebyshev.chebfit(2 * t - 1, y, DEGREE, w=1 / y)
    in_s = np.polynomial.chebyshev.cheb2poly(c)  # power basis in s = 2t-1
    return np.polynomial.Polynomial(in_s)(np.polynomial.Polynomial([-1, 2])).coef


def max_rel_error(coef):
    mpmath.mp.dps = 40
    worst = 0.0
    grid = list(np.linspace(0, 8, 8001)) + list(np.geomspace(8, 1e30, 3000))
    for a in grid:
        t = 1 / (1 + P_SCALE * a)
        v = 0.0
        for c in coef[::-1]:
            v = v * t + c
        exact = mpmath.exp(mpmath.mpf(a) ** 2) * mpmath.erfc(mpmath.mpf(a))
        worst = max(worst, abs(float((t * v - exact) / exact)))
    return worst


def main():
    coef = fit()
    print(f"// largest relative error {max_rel_error(coef):.3g}")
    for c in coef[::-1]:
        print(f"\t{float(c).hex()},")


if __name__ == "__main__":
    main()
