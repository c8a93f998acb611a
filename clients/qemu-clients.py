#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Debian's QEMU as a client of the series, run inside the test guest.

  qemu-clients.py [--sweep FIRMWARE --symbols NM_OUTPUT] TEST BACKEND
      TEST:    snapshot | postcopy | torn | refused | checker
      BACKEND: memfd | hugetlbfs | ram | ext4

snapshot: background snapshot (uffd-wp on the guest RAM) of a running nested
guest to a file, loaded back into a paused QEMU and dumped; the RAM image must
be one point in time of the sweep payload (clients/sweep.S), and agree with
the vCPU state saved with it.

postcopy: postcopy live migration (userfaultfd missing faults on the
destination's RAM) over a unix socket; the destination must have asked for
pages (postcopy-requests > 0) and its RAM must again be a clean sweep.

torn: a negative control; a dump of the running nested guest (no snapshot)
must be reported torn by the same checker, and a dump of it stopped must not.

refused: a negative control; QEMU must refuse background snapshot on memory
the kernel cannot write-protect (a shared file on ext4).

checker: the image checker itself must reject damaged images.

Prints what it verified; exits 0 on success, 1 on a failed check, 2 when a
step timed out or QEMU misbehaved.
"""
import argparse
import ctypes
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

PAGE = 4096
SWEEP_START = 0x100000
SWEEP_END = 0x3f00000
RAM = '64M'
STEP_TIMEOUT = float(os.environ.get('STEP_TIMEOUT', '300'))


class Failed(Exception):
    """A check failed: the kernel (or the test) is wrong."""


class Broken(Exception):
    """A step timed out or QEMU did something unexpected."""


def log(msg):
    print(f'# {msg}', flush=True)


def deadline_loop(what, timeout=STEP_TIMEOUT, period=0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        yield
        time.sleep(period)
    raise Broken(f'timed out after {timeout:.0f}s: {what}')


class Qmp:
    def __init__(self, path, proc):
        for _ in deadline_loop(f'QMP socket {path}'):
            if proc.poll() is not None:
                raise Broken(f'QEMU exited with {proc.returncode} before its QMP socket came up')
            if os.path.exists(path):
                try:
                    self.sock = socket.socket(socket.AF_UNIX)
                    self.sock.settimeout(STEP_TIMEOUT)
                    self.sock.connect(path)
                    break
                except OSError:
                    self.sock.close()
        self.buf = b''
        self.events = []
        self._read()                    # greeting
        self.cmd('qmp_capabilities')

    def _read(self):
        while b'\n' not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise Broken('QMP connection closed')
            self.buf += data
        line, self.buf = self.buf.split(b'\n', 1)
        return json.loads(line)

    def cmd(self, name, check=True, **args):
        self.sock.sendall(json.dumps({'execute': name, 'arguments': args}).encode() + b'\n')
        while True:
            msg = self._read()
            if 'event' in msg:
                self.events.append(msg)
                continue
            if 'error' in msg and check:
                raise Broken(f'{name}: {msg["error"]["desc"]}')
            return msg

    def hmp(self, line):
        return self.cmd('human-monitor-command', **{'command-line': line})['return']

    def close(self):
        self.sock.close()


class Vm:
    """One qemu-system-x86_64 running the sweep firmware."""

    def __init__(self, work, name, backend, firmware, incoming=None):
        self.name = name
        self.qmp_path = os.path.join(work, f'{name}.qmp')
        self.ram_path = None
        obj = backend_object(work, name, backend)
        if isinstance(obj, tuple):
            obj, self.ram_path = obj
        args = ['qemu-system-x86_64', '-machine', 'pc,accel=tcg,memory-backend=ram0',
                '-m', RAM, '-smp', '1', '-nodefaults', '-display', 'none',
                '-bios', firmware, '-object', obj,
                '-qmp', f'unix:{self.qmp_path},server=on,wait=off']
        if incoming:
            # A loaded snapshot stays paused (-S) for inspection; a postcopy
            # destination must run as soon as it takes over.
            args += (['-S'] if incoming == 'paused' else []) + ['-incoming', 'defer']
        self.log = open(os.path.join(work, f'{name}.log'), 'w')
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        try:
            self.qmp = Qmp(self.qmp_path, self.proc)
        except BaseException:
            self.proc.kill()
            self.proc.wait()
            self.log.close()
            if self.ram_path and os.path.exists(self.ram_path):
                os.unlink(self.ram_path)
            raise

    def status(self):
        return self.qmp.cmd('query-status')['return']['status']

    def migration(self):
        return self.qmp.cmd('query-migrate')['return']

    def wait_migration(self, want=('completed',), what='migration'):
        for _ in deadline_loop(f'{self.name}: {what}'):
            m = self.migration()
            st = m.get('status')
            if st in want:
                return m
            if st in ('failed', 'cancelled'):
                raise Broken(f'{self.name}: {what} {st}: {m.get("error-desc", "")}')

    def counter(self, addr=SWEEP_START):
        # xp prints "0000000000100000: 0x0000002a"
        out = self.qmp.hmp(f'xp /1wx {addr:#x}')
        return int(out.split(':')[1].split()[0], 16)

    def swapped_kib(self):
        with open(f'/proc/{self.proc.pid}/smaps_rollup') as f:
            for line in f:
                if line.startswith('Swap:'):
                    return int(line.split()[1])
        return 0

    def ram_mapping(self):
        """(start, length) of the guest RAM mapping in the QEMU process."""
        name = (os.path.basename(self.ram_path) if self.ram_path
                else 'memfd:memory-backend-memfd')
        lo = hi = None
        with open(f'/proc/{self.proc.pid}/maps') as f:
            for line in f:
                if name in line:
                    a, b = (int(x, 16) for x in line.split()[0].split('-'))
                    lo = a if lo is None else min(lo, a)
                    hi = b if hi is None else max(hi, b)
        if lo is None:
            raise Broken(f'{self.name}: no mapping of {name} in the QEMU process')
        return lo, hi - lo

    def registers(self):
        out = self.qmp.hmp('info registers')
        regs = {}
        for tok in out.replace('\r', ' ').replace('\n', ' ').split():
            if '=' in tok:
                k, v = tok.split('=', 1)
                if k in ('EDI', 'EIP') and v:
                    regs[k] = int(v, 16)
        if 'EDI' not in regs or 'EIP' not in regs:
            raise Broken(f'{self.name}: no EDI/EIP in "info registers"')
        return regs

    def dump(self, path):
        if os.path.exists(path):
            os.unlink(path)
        self.qmp.cmd('pmemsave', val=SWEEP_START, size=SWEEP_END - SWEEP_START,
                     filename=path)
        with open(path, 'rb') as f:
            return f.read()

    def quit(self):
        try:
            self.qmp.cmd('quit', check=False)
        except (Broken, OSError):
            pass
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        if self.ram_path and os.path.exists(self.ram_path):
            os.unlink(self.ram_path)


def backend_object(work, name, backend):
    if backend == 'memfd':
        return f'memory-backend-memfd,id=ram0,size={RAM},share=on'
    if backend == 'hugetlbfs':
        path = f'/dev/hugepages/qemu-client-{os.getpid()}-{name}'
        return (f'memory-backend-file,id=ram0,size={RAM},share=on,mem-path={path}', path)
    if backend == 'ram':
        # Private anonymous memory: the uffd-wp and missing-fault paths of
        # anonymous memory (QEMU also asks for THP on it).
        return f'memory-backend-ram,id=ram0,size={RAM}'
    if backend == 'ext4':
        path = f'/tmp/uffd-wp-ext4/qemu-client-{os.getpid()}-{name}'
        return (f'memory-backend-file,id=ram0,size={RAM},share=on,mem-path={path}', path)
    raise SystemExit(f'unknown backend {backend}')


class Pageout(threading.Thread):
    """Page out a QEMU's guest RAM (process_madvise(MADV_PAGEOUT)) every
    half second until stopped: its write-protected shmem pages go to swap
    and come back while the snapshot runs."""

    NR_PIDFD_OPEN, NR_PROCESS_MADVISE, MADV_PAGEOUT = 434, 440, 21

    def __init__(self, vm):
        super().__init__(daemon=True)
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.syscall.restype = ctypes.c_long
        self.pidfd = self.libc.syscall(self.NR_PIDFD_OPEN, vm.proc.pid, 0)
        if self.pidfd < 0:
            raise Broken(f'pidfd_open: {os.strerror(ctypes.get_errno())}')
        base, length = vm.ram_mapping()
        self.iov = (ctypes.c_size_t * 2)(base, length)
        self.vm = vm
        self.stop = threading.Event()
        self.calls = 0
        self.max_swap_kib = 0
        self.error = None

    def run(self):
        while not self.stop.is_set():
            r = self.libc.syscall(self.NR_PROCESS_MADVISE, self.pidfd, self.iov, 1,
                                  self.MADV_PAGEOUT, 0)
            if r < 0:
                self.error = os.strerror(ctypes.get_errno())
                return
            self.calls += 1
            self.max_swap_kib = max(self.max_swap_kib, self.vm.swapped_kib())
            self.stop.wait(0.5)

    def finish(self):
        self.stop.set()
        self.join()
        os.close(self.pidfd)
        if self.error:
            raise Broken(f'process_madvise(MADV_PAGEOUT): {self.error}')
        log(f'paged the source\'s guest RAM out {self.calls} times during the snapshot; '
            f'up to {self.max_swap_kib} KiB of the source QEMU were in swap')
        if not self.max_swap_kib:
            raise Failed('the source\'s write-protected guest RAM never went to swap: '
                         'the pageout tested nothing')


def check_image(image, regs=None, add_eip=None):
    """Return (c, k): pages [0, k) read c + 1 and pages [k, n) read c, c >= 1.

    With regs (the vCPU state saved with the image), k must be the page the
    payload's %edi points to, or the next one if the vCPU stopped right
    after the increment (EIP == add_eip).
    """
    n = (SWEEP_END - SWEEP_START) // PAGE
    if len(image) != n * PAGE:
        raise Failed(f'image is {len(image)} bytes, expected {n * PAGE}')
    vals = list(memoryview(image).cast('I')[::PAGE // 4])
    c = vals[-1]
    k = 0
    while k < n and vals[k] == (c + 1) & 0xffffffff:
        k += 1
    bad = [i for i in range(k, n) if vals[i] != c]
    if bad:
        i = bad[0]
        raise Failed(f'not one point in time: page {i} reads {vals[i]}, pages {k}.. '
                     f'should read {c} (and {len(bad) - 1} more pages differ)')
    if c == 0:
        raise Failed('pages read 0: the image lost the payload\'s writes')
    rest = bytearray(image)
    for i in range(n):
        rest[i * PAGE:i * PAGE + 4] = b'\0\0\0\0'
    if rest.count(0) != len(rest):
        i = next(j for j in range(n) if any(rest[j * PAGE:(j + 1) * PAGE]))
        raise Failed(f'page {i} has bytes beyond its counter')
    if regs is not None:
        edi, eip = regs['EDI'], regs['EIP']
        if not SWEEP_START <= edi <= SWEEP_END or edi % PAGE:
            raise Failed(f'saved vCPU state has EDI={edi:#x}, not in the sweep')
        kr = (edi - SWEEP_START) // PAGE
        if eip == add_eip:
            kr += 1
        if kr == n:
            kr = 0
        if kr != k:
            raise Failed(f'RAM image has its step at page {k} but the saved vCPU '
                         f'(EDI={edi:#x}, EIP={eip:#x}) is at page {kr}')
    return c, k


def sweeps_during(vm, what, action, min_sweeps=2):
    """Run action() and return how many sweeps the payload made meanwhile."""
    before = vm.counter()
    result = action()
    after = vm.counter()
    done = (after - before) & 0xffffffff
    log(f'{what}: the payload made {done} sweeps meanwhile')
    if done < min_sweeps:
        raise Failed(f'the payload made only {done} full sweeps during {what}: '
                     'too few writes to tell a good result from a bad one')
    return result


def wait_running_sweeps(vm, sweeps=2):
    for _ in deadline_loop(f'{vm.name}: payload sweeping'):
        if vm.counter() >= sweeps:
            return


def check_stopped(vm, work, add_eip, what):
    """Stop vm and check its RAM against its vCPU: one point in time."""
    vm.qmp.cmd('stop')
    regs = vm.registers()
    c, k = check_image(vm.dump(os.path.join(work, f'{vm.name}-stopped.ram')), regs, add_eip)
    log(f'{what}: one point in time, counters {c + 1}/{c}, step at page {k}')


def test_snapshot(work, backend, fw, add_eip, pageout=False):
    snap = os.path.join(work, 'snapshot.mig')
    src = Vm(work, 'src', backend, fw)
    try:
        wait_running_sweeps(src)
        src.qmp.cmd('migrate-set-capabilities', capabilities=[
            {'capability': 'background-snapshot', 'state': True}])

        def snapshot():
            src.qmp.cmd('migrate', uri=f'exec:cat > {snap}')
            return src.wait_migration(what='background snapshot')
        pager = Pageout(src) if pageout else None
        if pager:
            pager.start()
        try:
            m = sweeps_during(src, 'the snapshot', snapshot)
        finally:
            if pager:
                pager.finish()
        if src.status() != 'running':
            raise Failed(f'source is {src.status()} after the snapshot, not running')
        log(f'source QEMU: {src.swapped_kib()} KiB of its memory in swap')
        log(f'snapshot: {m["ram"]["transferred"]} bytes in {m.get("total-time")} ms, '
            f'{os.path.getsize(snap)} byte file')
    finally:
        src.quit()

    dst = Vm(work, 'dst', backend, fw, incoming='paused')
    try:
        dst.qmp.cmd('migrate-incoming', uri=f'exec:cat {snap}')
        dst.wait_migration(what='loading the snapshot')
        if dst.status() == 'running':
            raise Failed('the loaded snapshot runs; expected it paused')
        regs = dst.registers()
        c, k = check_image(dst.dump(os.path.join(work, 'dst.ram')), regs, add_eip)
        log(f'loaded image: one point in time, counters {c + 1}/{c}, step at page {k} '
            f'= saved EDI {regs["EDI"]:#x}')
    finally:
        dst.quit()
        os.unlink(snap)


def test_postcopy(work, backend, fw, add_eip):
    sock = os.path.join(work, 'migration.sock')
    src = Vm(work, 'src', backend, fw)
    try:
        dst = Vm(work, 'dst', backend, fw, incoming='running')
    except BaseException:
        src.quit()
        raise
    try:
        wait_running_sweeps(src)
        caps = [{'capability': 'postcopy-ram', 'state': True}]
        for vm in (src, dst):
            vm.qmp.cmd('migrate-set-capabilities', capabilities=caps)
        # Slow precopy so that most pages are still missing when postcopy
        # starts: the destination must fault them in.
        src.qmp.cmd('migrate-set-parameters', **{'max-bandwidth': 4 << 20})
        dst.qmp.cmd('migrate-incoming', uri=f'unix:{sock}')
        src.qmp.cmd('migrate', uri=f'unix:{sock}')
        for _ in deadline_loop('source starts migrating'):
            if src.migration().get('status') == 'active':
                break
        src.qmp.cmd('migrate-start-postcopy')
        src.wait_migration(what='postcopy (source)')
        m = dst.wait_migration(what='postcopy (destination)')
        if dst.status() != 'running':
            raise Failed(f'destination is {dst.status()} after postcopy, not running')
        requests = m.get('ram', {}).get('postcopy-requests', 0)
        ms = src.migration()
        src_requests = ms.get('ram', {}).get('postcopy-requests', 0)
        log(f'postcopy: {src_requests} page requests from the destination\'s '
            'missing faults')
        if src_requests < 1 and requests < 1:
            raise Failed('no postcopy page requests: missing faults were not exercised')
        before = dst.counter()
        for _ in deadline_loop('destination payload sweeps'):
            if (dst.counter() - before) & 0xffffffff >= 2:
                break
        check_stopped(dst, work, add_eip, 'destination image')
    finally:
        src.quit()
        dst.quit()


def test_torn(work, backend, fw, add_eip):
    src = Vm(work, 'src', backend, fw)
    try:
        wait_running_sweeps(src)
        t0, c0 = time.monotonic(), src.counter()
        time.sleep(2)
        rate = ((src.counter() - c0) & 0xffffffff) / (time.monotonic() - t0)
        log(f'the payload sweeps its RAM {rate:.1f} times a second')
        # pmemsave reads the RAM while the vCPU thread runs on: the payload
        # overtakes the reader, so the image holds pages from more than one
        # point in time. Being overtaken is a matter of speed, so allow a
        # few tries; a checker that never notices fails.
        for attempt in range(1, 6):
            t = time.monotonic()
            image = src.dump(os.path.join(work, f'running{attempt}.ram'))
            t = time.monotonic() - t
            try:
                check_image(image)
            except Failed as e:
                if 'not one point in time' not in str(e):
                    raise
                log(f'dump {attempt} of the running guest ({t:.2f}s) reported torn: {e}')
                break
            log(f'dump {attempt} of the running guest ({t:.2f}s) looked consistent')
        else:
            raise Failed('five dumps of the running guest all passed the checker: '
                         'it cannot tell a torn image from a snapshot')
        check_stopped(src, work, add_eip, 'the same guest stopped')
    finally:
        src.quit()


def test_refused(work, backend, fw, _add_eip):
    src = Vm(work, 'src', backend, fw)
    try:
        # QEMU asks the kernel (UFFDIO_REGISTER in write-protect mode) when
        # the capability is set; the payload need not have run.
        r = src.qmp.cmd('migrate-set-capabilities', check=False, capabilities=[
            {'capability': 'background-snapshot', 'state': True}])
        err = r.get('error', {}).get('desc', '')
        if 'not compatible with guest memory configuration' not in err:
            raise Failed(f'QEMU accepted background snapshot on {backend} '
                         f'(reply {r}); expected it refused')
        log(f'refused as expected: {err}')
    finally:
        src.quit()


def test_checker(_work, _backend, _fw, add_eip):
    n = (SWEEP_END - SWEEP_START) // PAGE
    k = 100
    good = bytearray(n * PAGE)
    for i in range(n):
        struct.pack_into('<I', good, i * PAGE, 8 if i < k else 7)
    edi = SWEEP_START + k * PAGE
    assert check_image(bytes(good), {'EDI': edi, 'EIP': 0}, add_eip) == (7, k)
    assert check_image(bytes(good), {'EDI': edi - PAGE, 'EIP': add_eip}, add_eip) == (7, k)
    damaged = {
        'a page saved after the payload wrote it': (500, 8),
        'a lost page': (600, 0),
        'a page from two sweeps ago': (50, 6),
    }
    for what, (i, v) in damaged.items():
        img = bytearray(good)
        struct.pack_into('<I', img, i * PAGE, v)
        try:
            check_image(bytes(img))
        except Failed as e:
            log(f'checker rejects {what}: {e}')
        else:
            raise Failed(f'checker accepted {what}')
    try:
        check_image(bytes(good), {'EDI': edi + 7 * PAGE, 'EIP': 0}, add_eip)
    except Failed as e:
        log(f'checker rejects RAM that disagrees with the vCPU: {e}')
    else:
        raise Failed('checker accepted RAM that disagrees with the vCPU state')
    img = bytearray(good)
    img[1234 * PAGE + 99] = 1
    try:
        check_image(bytes(img))
    except Failed:
        log('checker rejects stray bytes')
    else:
        raise Failed('checker accepted stray bytes')


def main():
    # The outer timeout sends SIGTERM: unwind, so that every QEMU is quit
    # and its hugetlbfs file removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument('--sweep', default=os.path.join(here, 'sweep.bin'))
    ap.add_argument('--symbols', default=os.path.join(here, 'sweep.sym'))
    ap.add_argument('test', choices=['snapshot', 'postcopy', 'torn', 'refused', 'checker'])
    ap.add_argument('backend', choices=['memfd', 'hugetlbfs', 'ram', 'ext4'])
    ap.add_argument('--pageout', action='store_true',
                    help='snapshot: page the source RAM out while it runs (memfd)')
    a = ap.parse_args()
    add_eip = None
    with open(a.symbols) as f:
        for line in f:
            addr, _, name = line.split()
            if name == 'sweep_add':
                add_eip = 0xf0000 + int(addr, 16)
    if add_eip is None:
        raise SystemExit(f'no sweep_add in {a.symbols}')
    if not shutil.which('qemu-system-x86_64') and a.test != 'checker':
        raise SystemExit('qemu-system-x86_64 not found')
    work = tempfile.mkdtemp(prefix=f'qemu-{a.test}-{a.backend}-')
    test = globals()[f'test_{a.test}']
    start = time.monotonic()
    try:
        if a.pageout:
            test(work, a.backend, a.sweep, add_eip, pageout=True)
        else:
            test(work, a.backend, a.sweep, add_eip)
    except Failed as e:
        print(f'FAIL {a.test} {a.backend}: {e}', flush=True)
        rc = 1
    except (Broken, OSError) as e:
        print(f'BROKEN {a.test} {a.backend}: {e}', flush=True)
        rc = 2
    else:
        print(f'PASS {a.test} {a.backend} ({time.monotonic() - start:.1f}s)', flush=True)
        rc = 0
    if rc:
        for name in sorted(os.listdir(work)):
            if name.endswith('.log'):
                with open(os.path.join(work, name)) as f:
                    for line in f.read().splitlines()[-20:]:
                        print(f'# {name}: {line}')
    shutil.rmtree(work, ignore_errors=True)
    return rc


if __name__ == '__main__':
    sys.exit(main())
