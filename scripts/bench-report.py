#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""The report of `make bench`: one markdown table over every kernel run.

  bench-report.py BENCH_DIR [KERNEL...]

KERNEL: which of series, base and ref to report (default: every one with a
complete run in BENCH_DIR).

BENCH_DIR holds one directory per kernel (series, base, ref), each written
by scripts/guest-bench.sh plus the host's settings.host. Refuses to compare
runs whose settings differ (guest, QEMU, clock mode, binaries, sizes).
Writes BENCH_DIR/report.md (also printed), BENCH_DIR/samples.csv (every
sample behind a median, per kernel) and BENCH_DIR/scan.png. Exits 1 if a
result of the series is ERR (a cycle whose answer differed from the pages written, or a
benchmark that failed), or if the series run lacks a result it must have
(every method on every memory type but soft-dirty on hugetlb and sync on
ext4, except sync cycles over the fault budget; round trips, arming,
snapshots).
"""
import csv
import os
import re
import statistics
import sys

KERNELS = ('series', 'base', 'ref')
FRACS = ('0.1%', '1%', '10%', '100%')
TYPES = ('anon', 'thp', 'shmem', 'hugetlb', 'ext4')
METHODS = ('softdirty', 'scan', 'pagemap-wp', 'sync')
# Units where a larger figure is better; for all others smaller is better.
HIGHER_BETTER = ('pages/s',)
# PAGEMAP_SCAN against soft-dirty, cycle over the whole region: how many
# times faster it must be at each dirty fraction.
TARGETS = (('1%', 25), ('0.1%', 100))
ERR = 'ERR'


def read_settings(d):
    s = {}
    for name in ('settings.host', 'settings'):
        with open(os.path.join(d, name)) as f:
            for line in f:
                k, _, v = line.strip().partition(' ')
                if k:
                    s[k] = v
    return s


def num(v):
    if v == ERR:
        return ERR
    try:
        return float(v)
    except ValueError:
        return None


def real(v):
    """A measured figure: not n/a (None) and not ERR."""
    return v is not None and v != ERR


def read_results(d, samples=None):
    """{(bench, memory, method, param): (value, None (n/a) or ERR, unit)};
    the raw samples go to @samples as lists."""
    r = {}
    snaps = {}
    for name in sorted(os.listdir(d)):
        path = os.path.join(d, name)
        if name.startswith(('cycle-', 'roundtrip')) and name.endswith('.txt'):
            with open(path) as f:
                for line in f:
                    p = line.rstrip('\n').split('\t')
                    if len(p) == 7 and p[0] == 'R':
                        r[tuple(p[1:5])] = (num(p[5]), p[6])
                    elif len(p) == 8 and p[0] == 'S' and samples is not None:
                        samples.append(p[1:])
        elif name.endswith('.rc'):
            # Exit status of each program run (scripts/guest-bench.sh): one
            # that failed without an ERR result (crashed, timed out) is an
            # error of its own.
            with open(path) as f:
                rc = f.read().strip()
            if rc != '0':
                r[('failed', name[:-3], f'exit {rc}', '-')] = (ERR, '')
        elif name == 'arm.txt':
            # | memory | N GiB | arm ms | disarm ms | page tables kB | kB per GiB |
            with open(path) as f:
                for line in f:
                    m = re.match(r'\| ([^|]+) \| (\d+) GiB \| ([^|]+) \| ([^|]+) \| ([^|]+) \|',
                                 line)
                    if not m:
                        continue
                    # "anon, WP_UNPOPULATED" -> anon, "shmem, WP_ASYNC" -> shmem async
                    name = m.group(1).strip()
                    mem = name.split(',')[0] + (' async' if 'WP_ASYNC' in name else '')
                    size = f'{m.group(2)} GiB'
                    r[('arm', mem, 'arm', size)] = (num(m.group(3)), 'ms')
                    r[('arm', mem, 'disarm', size)] = (num(m.group(4)), 'ms')
                    r[('arm', mem, 'page tables', size)] = (num(m.group(5)), 'kB')
        elif name.startswith('snapshot-') and name.endswith('.txt'):
            # snapshot-MEM-wN-REP.txt, one per repetition (older runs: no -REP)
            parts = name[:-4].split('-')
            mem, w = parts[1], parts[2]
            pages = secs = None
            ok = False
            with open(path) as f:
                for line in f:
                    m = re.search(r'\((\d+) x \d+ KiB pages\)', line)
                    if m:
                        pages = int(m.group(1))
                    m = re.search(r'time to snapshot\s*:\s*([0-9.]+) s', line)
                    if m:
                        secs = float(m.group(1))
                    if re.search(r'snapshot == memory at protect\s*:\s*verified', line):
                        ok = True
            # A snapshot that ran but was not verified is wrong, not n/a.
            val = (pages / secs if ok else ERR) if pages and secs else None
            snaps.setdefault((mem, w[1:]), []).append(val)
    for (mem, w), vals in snaps.items():
        key = ('snapshot', mem, f'{w} writers', 'rate')
        if ERR in vals:
            r[key] = (ERR, 'pages/s')
        elif None in vals:
            r[key] = (None, 'pages/s')
        else:
            r[key] = (statistics.median(vals), 'pages/s')
            if samples is not None:
                samples += [list(key) + [str(i), f'{v:.0f}', 'pages/s']
                            for i, v in enumerate(vals)]
    return r


def fmt(v):
    if v is None:
        return 'n/a'
    if v == ERR:
        return ERR
    if v >= 1000:
        return f'{v:.0f}'
    if v >= 10:
        return f'{v:.1f}'
    return f'{v:.3g}'


def ratio(series, other, unit):
    """How many times better the series is than the other kernel."""
    if not real(series) or not real(other) or series <= 0 or other <= 0:
        return None
    return series / other if unit in HIGHER_BETTER else other / series


def order(key):
    bench, mem, method, param = key
    b = ('cycle', 'firstwrite', 'roundtrip', 'arm', 'snapshot')
    return (b.index(bench) if bench in b else 9,
            TYPES.index(mem) if mem in TYPES else 9,
            METHODS.index(method) if method in METHODS else 9, method,
            FRACS.index(param) if param in FRACS else 9,
            float(param.split()[0]) if param.endswith('GiB') else 0, param)


def plot(path, runs):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(TYPES), figsize=(4 * len(TYPES), 4), sharey=True)
    xs = [float(f[:-1]) for f in FRACS]
    styles = {'series': '-', 'base': '--', 'ref': ':'}
    # One colour per method in every panel: hugetlb has no soft-dirty line.
    colours = {meth: f'C{i}' for i, meth in enumerate(METHODS)}
    for ax, mem in zip(axes, TYPES):
        for k, res in runs.items():
            for meth in METHODS:
                ys = [res.get(('cycle', mem, meth, f), (None,))[0] for f in FRACS]
                pts = [(x, y) for x, y in zip(xs, ys) if real(y) and y > 0]
                if pts:
                    ax.plot(*zip(*pts), styles[k], marker='o',
                            color=colours[meth], label=f'{meth} ({k})')
        ax.set_xscale('log')
        ax.set_yscale('log')
        ax.set_title(mem)
        ax.set_xlabel('dirty fraction, %')
        ax.grid(True, which='both', alpha=0.3)
    axes[0].set_ylabel('find-written-and-reset cycle, ms')
    handles, labels = [], []
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc='lower center', ncol=6, fontsize='small')
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(path, dpi=90)


def compact(runs, settings):
    """The series' results in a few short tables, for the README."""
    r = runs['series']
    out = ['| memory | method | ' + ' | '.join(f'cycle {f} ms' for f in FRACS) +
           ' | first write 1% us | soft-dirty / method at 1% | at 0.1% |',
           '|---|---|' + '---:|' * (len(FRACS) + 3)]
    for mem in TYPES:
        for meth in METHODS:
            cyc = [r.get(('cycle', mem, meth, f), (None,))[0] for f in FRACS]
            if not any(real(v) for v in cyc):
                continue
            wr = r.get(('firstwrite', mem, meth, '1%'), (None,))[0]
            rat = []
            for f in ('1%', '0.1%'):
                sd = r.get(('cycle', mem, 'softdirty', f), (None,))[0]
                v = r.get(('cycle', mem, meth, f), (None,))[0]
                rat.append(f'{sd / v:.1f}x' if real(sd) and real(v) and v > 0 and
                           meth != 'softdirty' else '')
            out.append(f'| {mem} | {meth} | ' + ' | '.join(fmt(v) for v in cyc) +
                       f' | {fmt(wr)} | {rat[0]} | {rat[1]} |')
    out += ['', '| memory | sync round trip median us | p99 us | snapshot pages/s, 1 writer | '
            '2 writers |', '|---|---:|---:|---:|---:|']
    for mem in TYPES + ('memfd',):
        med = r.get(('roundtrip', mem, 'sync', 'median'), (None,))[0]
        p99 = r.get(('roundtrip', mem, 'sync', 'p99'), (None,))[0]
        s1 = r.get(('snapshot', mem, '1 writers', 'rate'), (None,))[0]
        s2 = r.get(('snapshot', mem, '2 writers', 'rate'), (None,))[0]
        if any(real(v) for v in (med, p99, s1, s2)):
            out.append(f'| {mem} | {fmt(med)} | {fmt(p99)} | {fmt(s1)} | {fmt(s2)} |')
    arm = sorted({k[1:] for k in r if k[0] == 'arm'}, key=lambda k: (k[0], float(k[2].split()[0])))
    sizes = sorted({k[2] for k in arm}, key=lambda x: float(x.split()[0]))
    mems = sorted({k[0] for k in arm})
    if arm:
        out += ['', '| memory | ' + ' | '.join(f'arm {x} ms | page tables kB' for x in sizes) + ' |',
                '|---|' + '---:|---:|' * len(sizes)]
        for mem in mems:
            cells = []
            for x in sizes:
                cells += [fmt(r.get(('arm', mem, 'arm', x), (None,))[0]),
                          fmt(r.get(('arm', mem, 'page tables', x), (None,))[0])]
            out.append(f'| {mem} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(out) + '\n'


def missing_results(d, r, s):
    """The results the series run must have and has not (n/a or absent)."""
    want = []
    for mem in TYPES:
        for meth in METHODS:
            if (mem, meth) in (('hugetlb', 'softdirty'), ('ext4', 'sync')):
                continue
            want += [('cycle', mem, meth, f) for f in FRACS]
        if mem != 'ext4':
            want += [('roundtrip', mem, 'sync', q) for q in ('median', 'p99')]
    # "size_mib 1024 repeat 5 ... arm_gib 1 8 64 snapshot_mib 256 ..."
    tokens = s.get('size_mib', '').split()
    sizes = []
    if 'arm_gib' in tokens:
        for t in tokens[tokens.index('arm_gib') + 1:]:
            if not t.isdigit():
                break
            sizes.append(t)
    for mem in ('anon', 'shmem', 'anon async', 'shmem async'):
        want += [('arm', mem, 'arm', f'{x} GiB') for x in sizes]
    for mem in ('anon', 'memfd'):
        want += [('snapshot', mem, f'{w} writers', 'rate') for w in (1, 2)]
    # Sync cycles over the fault budget are not run, and say so.
    skipped = set()
    for mem in TYPES:
        try:
            with open(os.path.join(d, f'cycle-{mem}.err')) as f:
                for line in f:
                    m = re.search(rf'{re.escape(mem)}/sync: (\S+): not run', line)
                    if m:
                        skipped.add(('cycle', mem, 'sync', m.group(1)))
        except FileNotFoundError:
            pass
    return [k for k in want if k not in skipped and not real(r.get(k, (None,))[0])]


def main():
    d = sys.argv[1]
    wanted = sys.argv[2:] or KERNELS
    kernels = [k for k in KERNELS
               if k in wanted and os.path.exists(os.path.join(d, k, 'done'))]
    for k in kernels:
        if not os.path.exists(os.path.join(d, k, 'settings.host')):
            sys.exit(f'{sys.argv[0]}: {k}: no settings.host in {d}/{k}: an interrupted run?')
    if 'series' not in kernels:
        sys.exit(f'{sys.argv[0]}: no complete series run in {d}')
    settings = {k: read_settings(os.path.join(d, k)) for k in kernels}
    ref = dict(settings['series'])
    for k in kernels:
        s = dict(settings[k])
        differ = sorted(key for key in set(s) | set(ref)
                        if key != 'kernel' and s.get(key) != ref.get(key))
        if differ:
            lines = [f'  {key}: series "{ref.get(key)}", {k} "{s.get(key)}"' for key in differ]
            sys.exit(f'{sys.argv[0]}: refusing to compare runs made under different '
                     f'settings:\n' + '\n'.join(lines))
    samples = {k: [] for k in kernels}
    runs = {k: read_results(os.path.join(d, k), samples[k]) for k in kernels}
    with open(os.path.join(d, 'samples.csv'), 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['kernel', 'bench', 'memory', 'method', 'param', 'sample', 'value', 'unit'])
        for k in kernels:
            w.writerows([k] + row for row in samples[k])
    keys = sorted(set().union(*runs.values()), key=order)
    others = [k for k in kernels if k != 'series']
    s = settings['series']

    out = [f'# make bench, {s.get("mode")}', '']
    for k in kernels:
        out.append(f'- {k}: {settings[k].get("kernel", "?")}')
    out += [f'- guest: {s.get("cpus")} vCPUs, {s.get("memory")} memory, {s.get("nodes")} NUMA '
            f'nodes, accelerator {s.get("accel", "?")}, QEMU {s.get("qemu")}, '
            f'clocksource {s.get("clocksource")}, THP {s.get("thp")}, swap {s.get("swap")}',
            f'- sizes: {s.get("size_mib")}',
            '- values are medians over the repetitions (a sync cycle over its fault budget '
            'has fewer, see samples.csv); ratio = how many times better the series is than '
            'that kernel (> 1: the series is faster, smaller, or, for pages/s, higher)', '']
    head = ['bench', 'memory', 'method', 'param', 'unit', 'series']
    for k in others:
        head += [k, f'series vs {k}']
    out.append('| ' + ' | '.join(head) + ' |')
    out.append('|' + '---|' * 5 + '---:|' * (1 + 2 * len(others)))
    slow = []
    for key in keys:
        sv, unit = runs['series'].get(key, (None, ''))
        row = list(key) + [unit, fmt(sv)]
        for k in others:
            ov, u = runs[k].get(key, (None, unit))
            rt = ratio(sv, ov, unit or u)
            row += [fmt(ov), f'{rt:.2f}' if rt is not None else '']
            if k == 'ref' and rt is not None and rt < 0.95:
                slow.append((key, rt))
        out.append('| ' + ' | '.join(row) + ' |')

    out += ['', '## Targets (series kernel: PAGEMAP_SCAN cycle against soft-dirty)', '']
    for mem in TYPES:
        for frac, want in TARGETS:
            sd = runs['series'].get(('cycle', mem, 'softdirty', frac), (None,))[0]
            sc = runs['series'].get(('cycle', mem, 'scan', frac), (None,))[0]
            if real(sd) and real(sc) and sc > 0:
                x = sd / sc
                out.append(f'- {mem} at {frac}: {x:.1f}x faster '
                           f'({"meets" if x >= want else "MISSES"} the {want}x target)')
            else:
                why = ('an ERR result' if ERR in (sd, sc) else
                       'soft-dirty does not track hugetlb' if mem == 'hugetlb' and real(sc) else
                       'a method was not available (n/a)')
                out.append(f'- {mem} at {frac}: no ratio, {why}')
    errs = [k + (kern,) for kern in kernels for k, (v, _) in runs[kern].items() if v == ERR]
    ok = sum(1 for kern in kernels for k, (v, _) in runs[kern].items()
             if k[0] == 'cycle' and real(v))
    out += ['', f'Answers: {ok} cycle results, each a median of cycles whose written pages '
            'were all checked against the pages actually written.']
    if errs:
        out.append(f'ERRORS ({len(errs)}): ' + '; '.join(' '.join(e) for e in errs))
    if 'ref' in kernels:
        if slow:
            out.append('- slower than the reference by more than 5 %:')
            out += [f'  - {" ".join(key)}: ratio {rt:.2f}' for key, rt in slow]
        else:
            out.append('- nothing slower than the reference by more than 5 %')
    text = '\n'.join(out) + '\n'
    with open(os.path.join(d, 'report.md'), 'w') as f:
        f.write(text)
    # The short form the README quotes
    with open(os.path.join(d, 'summary.md'), 'w') as f:
        f.write(compact(runs, settings))
    print(text, end='')
    print(f'samples: {os.path.join(d, "samples.csv")}')
    try:
        plot(os.path.join(d, 'scan.png'), runs)
        print(f'plot: {os.path.join(d, "scan.png")}')
    except ImportError:
        print('no matplotlib: no plot')
    # The series' own ERR results fail the run; another kernel's are its
    # own failures (a wrong answer, a hang), reported in the table as such.
    own = [e for e in errs if e[-1] == 'series']
    if len(own) < len(errs):
        print(f'{len(errs) - len(own)} ERR results of other kernels: their own failures, '
              'see their console.log and *.txt in the run directory')
    if own:
        sys.exit(f'{sys.argv[0]}: {len(own)} results of the series are ERR (see above)')
    missing = missing_results(os.path.join(d, 'series'), runs['series'], s)
    if missing:
        sys.exit(f'{sys.argv[0]}: {len(missing)} results of the series are n/a: '
                 + '; '.join(' '.join(k) for k in missing[:12]))


if __name__ == '__main__':
    main()
