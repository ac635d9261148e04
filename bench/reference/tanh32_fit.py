#!/usr/bin/python3
"""Fit the polynomial R of the float32 tanh kernels (internal/kernel/trans32.go).

For |x| < atanh(1/2) the kernels compute tanh(x) = x + x^3 * R(x^2) in
float32. This script fits R by least squares on Chebyshev nodes of z = x^2
in [0, atanh(1/2)^2], weighted so that the residual is the relative error of
tanh, rounds the coefficients to float32, checks the largest relative error
of tanh computed with them (in float64) against mpmath at 40 digits on a
dense grid, and prints them, highest degree first, as Go hex literals.

Run with Debian's numpy and mpmath:

    /usr/bin/python3 bench/reference/tanh32_fit.py
"""

import mpmath
import numpy as np

LIMIT = float(mpmath.atanh(0.5))  # the polynomial's range of |x|
DEGREE = 4
NODES = 4000


def fit():
    mpmath.mp.dps = 40
    k = np.arange(NODES)
    z = LIMIT**2 * 0.5 * (1 - np.cos(np.pi * (k + 0.5) / NODES))
    x = [mpmath.sqrt(mpmath.mpf(v)) for v in z]
    r = np.array([float((mpmath.tanh(v) - v) / v**3) for v in x])
    # tanh(x)'s relative error is x^3*dR/tanh(x), about x^2*dR = z*dR.
    w = np.array([float(v**3 / mpmath.tanh(v)) for v in x])
    c = np.polynomial.chebyshev.chebfit(2 * z / LIMIT**2 - 1, r, DEGREE, w=w)
    in_s = np.polynomial.chebyshev.cheb2poly(c)  # power basis in s
    s_of_z = np.polynomial.Polynomial([-1, 2 / LIMIT**2])
    coef = np.polynomial.Polynomial(in_s)(s_of_z).coef
    return np.float32(coef)


def max_rel_error(coef):
    mpmath.mp.dps = 40
    worst = 0.0
    for x in np.linspace(1e-4, LIMIT, 20001):
        z = x * x
        v = 0.0
        for c in coef[::-1]:
            v = v * z + float(c)
        exact = mpmath.tanh(mpmath.mpf(x))
        worst = max(worst, abs(float((x + x * z * v - exact) / exact)))
    return worst


def main():
    coef = fit()
    print(f"// degree {DEGREE}, largest relative error {max_rel_error(coef):.3g}")
    for c in coef[::-1]:
        print(f"\t{float(c).hex()},")


if __name__ == "__main__":
    main()
