#!/usr/bin/env python3
"""Compares our NAB result files with NuPIC's published ones, row by row.

usage: scripts/compare-nupic.py RESULTS_DIR [DETECTOR]
RESULTS_DIR is what `htmengine nab --out` wrote (RESULTS_DIR/<detector>/<category>/<detector>_<file>.csv);
NuPIC's files are read from shared/nab/results/numenta beside the repository or a parent folder. Prints, per file, the
fraction of rows whose raw score equals NuPIC's (within 1e-6: NuPIC prints float32 values with 12 digits)
and the first row that differs, then the total fraction.
"""
import csv
import glob
import os
import sys

root = sys.argv[1]
detector = sys.argv[2] if len(sys.argv) > 2 else 'htmengine'


def find_reference():
    # The shared folder sits beside the clone (../shared) or, for a worktree, beside an ancestor (/work/shared).
    here = os.path.dirname(os.path.abspath(__file__))
    while True:
        candidate = os.path.join(here, 'shared', 'nab', 'results', 'numenta')
        if os.path.isdir(candidate):
            return candidate
        parent = os.path.dirname(here)
        if parent == here:
            sys.exit('compare-nupic.py: no shared/nab/results/numenta beside the repository or any parent folder')
        here = parent


reference_root = find_reference()
total = equal = 0
for path in sorted(glob.glob(os.path.join(root, detector, '*', '*.csv'))):
    category = os.path.basename(os.path.dirname(path))
    name = os.path.basename(path)[len(detector) + 1:]
    ours = list(csv.DictReader(open(path)))
    theirs = list(csv.DictReader(open(os.path.join(reference_root, category, 'numenta_' + name))))
    same = [abs(float(a['raw_score']) - float(b['raw_score'])) < 1e-6 for a, b in zip(ours, theirs)]
    first = next((i for i, s in enumerate(same) if not s), None)
    total += len(ours)
    equal += sum(same)
    detail = '' if first is None else 'ours=%s nupic=%s' % (ours[first]['raw_score'], theirs[first]['raw_score'])
    print('%-48s %6d equal=%.4f first_diff_row=%s %s' % (name, len(ours), sum(same) / len(ours), first, detail))
print('TOTAL rows=%d equal_fraction=%.6f' % (total, equal / max(total, 1)))
