#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""What a CRIU images directory's pagemaps say about a range, read with crit.

  criu-pagemap.py DIR task|shmem [--parent A:B] [--present A:B] [--lazy A:B]

task reads DIR/pagemap-PID.img (ranges are virtual addresses), shmem reads
each DIR/pagemap-shmem-ID.img on its own (ranges are offsets into the
shared memory object; the check holds if one of the images satisfies it).
A:B is a half-open byte range, in hex or decimal.

  --parent A:B   every page of the range is left to the parent image
  --present A:B  at least one page of the range is saved in this image
  --lazy A:B     every page of the range is left to the lazy-pages daemon

Prints the totals per image and what each check found; exits 0 when every
check holds, 1 when one does not, 2 when an image cannot be decoded.
"""
import argparse
import glob
import json
import os
import subprocess
import sys

PAGE = 4096
PE_PARENT, PE_LAZY, PE_PRESENT = 1, 2, 4
NAMES = {'PE_PARENT': PE_PARENT, 'PE_LAZY': PE_LAZY, 'PE_PRESENT': PE_PRESENT}


def flags_of(entry):
    f = entry.get('flags', 0)
    if isinstance(f, str):
        f = (sum(NAMES.get(x.strip(), 0) for x in f.split('|')) if 'PE_' in f
             else int(f, 0))
    if entry.get('in_parent'):
        f |= PE_PARENT
    return f


def load(path):
    """[(start, end, flags)] of one pagemap image."""
    out = subprocess.run(['crit', 'decode', '-i', path], capture_output=True, text=True)
    if out.returncode:
        raise OSError(f'crit decode {path}: {out.stderr.strip()}')
    runs = []
    for e in json.loads(out.stdout)['entries'][1:]:
        start = int(str(e['vaddr']), 0)
        runs.append((start, start + e['nr_pages'] * PAGE, flags_of(e)))
    return runs


def pages_with(runs, flag, lo, hi):
    n = 0
    for start, end, f in runs:
        if f & flag:
            n += max(0, min(end, hi) - max(start, lo)) // PAGE
    return n


def rng(text):
    a, b = (int(x, 0) for x in text.split(':'))
    if a >= b or a % PAGE or b % PAGE:
        raise argparse.ArgumentTypeError(f'bad range {text}')
    return a, b


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('dir')
    ap.add_argument('kind', choices=['task', 'shmem'])
    ap.add_argument('--parent', type=rng)
    ap.add_argument('--present', type=rng)
    ap.add_argument('--lazy', type=rng)
    a = ap.parse_args()
    pattern = 'pagemap-shmem-*.img' if a.kind == 'shmem' else 'pagemap-[0-9]*.img'
    paths = sorted(glob.glob(os.path.join(a.dir, pattern)))
    try:
        images = {os.path.basename(p): load(p) for p in paths}
    except (OSError, ValueError, KeyError) as e:
        print(f'# {e}')
        return 2
    if not images:
        print(f'# no {pattern} in {a.dir}')
        return 1
    name = os.path.basename(a.dir.rstrip('/'))
    for img, runs in images.items():
        tot = {k: pages_with(runs, v, 0, 1 << 64) for k, v in NAMES.items()}
        print(f'# {name}/{img}: {tot["PE_PRESENT"]} pages saved, '
              f'{tot["PE_PARENT"]} left to the parent, {tot["PE_LAZY"]} lazy')
    ok = True
    checks = [('parent', PE_PARENT, a.parent, 'all'), ('lazy', PE_LAZY, a.lazy, 'all'),
              ('present', PE_PRESENT, a.present, 'some')]
    for what, flag, r, need in checks:
        if r is None:
            continue
        lo, hi = r
        want = (hi - lo) // PAGE
        got = max(pages_with(runs, flag, lo, hi) for runs in images.values())
        held = got == want if need == 'all' else got > 0
        print(f'# {name}: {what}: {got} of the {want} pages in {lo:#x}-{hi:#x}'
              f' ({need} required): {"yes" if held else "NO"}')
        ok &= held
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
