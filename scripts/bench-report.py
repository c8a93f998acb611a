#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""The report of `make bench`: one markdown table over every kernel run.

  bench-report.py BENCH_DIR

BENCH_DIR holds one directory per kernel (series, base, ref), each written
by scripts/guest-bench.sh plus the host's settings.host. Refuses to compare
runs whose settings differ (guest, QEMU, clock mode, binaries, sizes).
Writes BENCH_DIR/report.md (also printed) and BENCH_DIR/scan.png.
"""
import os
import re
import sys

KERNELS = ('series', 'base', 'ref')
FRACS = ('0.1%', '1%', '10%', '100%')
TYPES = ('anon', 'thp', 'shmem', 'hugetlb', 'ext4')
METHODS = ('softdirty', 'scan', 'pagemap-wp', 'sync')
# Units where a larger figure is better; for all others smaller is better.
HIGHER_BETTER = ('pages/s',)


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
    try:
        return float(v)
    except ValueError:
        return None


def read_results(d):
    """{(bench, memory, method, param): (value or None, unit)}"""
    r = {}
    for name in sorted(os.listdir(d)):
        path = os.path.join(d, name)
        if name.startswith(('cycle-', 'roundtrip')) and name.endswith('.txt'):
            with open(path) as f:
                for line in f:
                    p = line.rstrip('\n').split('\t')
                    if len(p) == 7 and p[0] == 'R':
                        r[tuple(p[1:5])] = (num(p[5]), p[6])
        elif name == 'arm.txt':
            # | memory | N GiB | arm ms | disarm ms | page tables kB | kB per GiB |
            with open(path) as f:
                for line in f:
                    m = re.match(r'\| ([^|]+) \| (\d+) GiB \| ([^|]+) \| ([^|]+) \| ([^|]+) \|',
                                 line)
                    if not m:
                        continue
                    mem = 'anon' if m.group(1).startswith('anon') else m.group(1).strip()
                    size = f'{m.group(2)} GiB'
                    r[('arm', mem, 'arm', size)] = (num(m.group(3)), 'ms')
                    r[('arm', mem, 'disarm', size)] = (num(m.group(4)), 'ms')
                    r[('arm', mem, 'page tables', size)] = (num(m.group(5)), 'kB')
        elif name.startswith('snapshot-') and name.endswith('.txt'):
            _, mem, w = name[:-4].split('-')
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
            val = pages / secs if pages and secs and ok else None
            r[('snapshot', mem, f'{w[1:]} writers', 'rate')] = (val, 'pages/s')
    return r


def fmt(v):
    if v is None:
        return 'n/a'
    if v >= 1000:
        return f'{v:.0f}'
    if v >= 10:
        return f'{v:.1f}'
    return f'{v:.3g}'


def ratio(series, other, unit):
    """How many times better the series is than the other kernel."""
    if series is None or other is None or series <= 0 or other <= 0:
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
    for ax, mem in zip(axes, TYPES):
        for k, res in runs.items():
            for meth in METHODS:
                ys = [res.get(('cycle', mem, meth, f), (None,))[0] for f in FRACS]
                pts = [(x, y) for x, y in zip(xs, ys) if y]
                if pts:
                    ax.plot(*zip(*pts), styles[k], marker='o', label=f'{meth} ({k})')
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


def main():
    d = sys.argv[1]
    kernels = [k for k in KERNELS if os.path.exists(os.path.join(d, k, 'done'))]
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
    runs = {k: read_results(os.path.join(d, k)) for k in kernels}
    keys = sorted(set().union(*runs.values()), key=order)
    others = [k for k in kernels if k != 'series']
    s = settings['series']

    out = [f'# make bench, {s.get("mode")}', '']
    for k in kernels:
        out.append(f'- {k}: {settings[k].get("kernel", "?")}')
    out += [f'- guest: {s.get("cpus")} vCPUs, {s.get("nodes")} NUMA nodes, QEMU {s.get("qemu")}, '
            f'clocksource {s.get("clocksource")}, THP {s.get("thp")}',
            f'- sizes: {s.get("size_mib")}',
            '- values are medians over the repetitions; ratio = how many times better the '
            'series is than that kernel (> 1: the series is faster or smaller)', '']
    head = ['bench', 'memory', 'method', 'param', 'unit', 'series']
    for k in others:
        head += [k, f'{k}/series']
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

    out += ['', '## Targets', '']
    for mem in TYPES:
        sd = runs['series'].get(('cycle', mem, 'softdirty', '1%'), (None,))[0]
        sc = runs['series'].get(('cycle', mem, 'scan', '1%'), (None,))[0]
        if sd and sc:
            x = sd / sc
            out.append(f'- {mem}: PAGEMAP_SCAN cycle at 1 % is {x:.1f}x faster than '
                       f'soft-dirty ({"meets" if x >= 10 else "MISSES"} the 10x target)')
        else:
            out.append(f'- {mem}: PAGEMAP_SCAN vs soft-dirty at 1 %: n/a')
    if 'ref' in kernels:
        if slow:
            out.append('- slower than the reference by more than 5 %:')
            out += [f'  - {" ".join(key)}: ratio {rt:.2f}' for key, rt in slow]
        else:
            out.append('- nothing slower than the reference by more than 5 %')
    text = '\n'.join(out) + '\n'
    with open(os.path.join(d, 'report.md'), 'w') as f:
        f.write(text)
    print(text, end='')
    try:
        plot(os.path.join(d, 'scan.png'), runs)
        print(f'plot: {os.path.join(d, "scan.png")}')
    except ImportError:
        print('no matplotlib: no plot')


if __name__ == '__main__':
    main()
