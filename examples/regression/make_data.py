#!/usr/bin/env python3
"""Writes train.csv and test.csv for the regression example.

y = sin(x1) + 0.5 * x2^2 - x3 + noise, x ~ U(-2, 2)^3, noise ~ N(0, 0.05^2).
A fixed seed makes the files reproducible; they are committed, so running
this again must give the same bytes.  Usage: python3 make_data.py
"""
import math
import os
import random

SEED = 20240601
NOISE = 0.05


def target(x1, x2, x3):
    return math.sin(x1) + 0.5 * x2 * x2 - x3


def write(path, rows, rng):
    with open(path, "w", newline="\n") as f:
        f.write("x1,x2,x3,y\n")
        for _ in range(rows):
            x = [rng.uniform(-2.0, 2.0) for _ in range(3)]
            y = target(*x) + rng.gauss(0.0, NOISE)
            f.write("%.6f,%.6f,%.6f,%.6f\n" % (x[0], x[1], x[2], y))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    rng = random.Random(SEED)
    write(os.path.join(here, "train.csv"), 400, rng)
    write(os.path.join(here, "test.csv"), 100, rng)


if __name__ == "__main__":
    main()
