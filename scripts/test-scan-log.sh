#!/usr/bin/env bash
# Proves scan-log.sh can fail: every kind of report it must catch, as the
# kernel prints it, is fed to it alone and must be flagged; a clean boot log
# must pass. make check runs this before trusting a clean verdict.
set -euo pipefail
here=$(dirname "$0")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'Linux version 6.1.192+\nAdding 524284k swap on /dev/zram0.\nreboot: Power down\n' > "$tmp/clean"
"$here/scan-log.sh" "$tmp/clean" >/dev/null || { echo "scan-log flags a clean log" >&2; exit 1; }
n=0
while IFS= read -r line; do
	[ -n "$line" ] || continue
	printf 'Linux version 6.1.192+\n%s\nreboot: Power down\n' "$line" > "$tmp/bad"
	if "$here/scan-log.sh" "$tmp/bad" >/dev/null 2>&1; then
		echo "scan-log misses: $line" >&2
		exit 1
	fi
	n=$((n + 1))
done <<'EOF_SPLATS'
WARNING: CPU: 1 PID: 497 at mm/hugetlb.c:5565 hugetlb_wp+0x2b/0x2f
BUG: KASAN: use-after-free in zap_pte_range+0x1f/0x300
kernel BUG at mm/memory.c:1234!
BUG: unable to handle page fault for address: ffff888000000000
BUG: Bad page state in process uffd-wp  pfn:10a2b
BUG: Bad page map in process uffd-wp  pte:8000000101a2b025 pmd:10c3d067
BUG: Bad rss-counter state mm:00000000e0a1 type:MM_ANONPAGES val:1
BUG: KFENCE: out-of-bounds read in shmem_fault+0x10/0x20
kmemleak: 2 new suspected memory leaks (see /sys/kernel/debug/kmemleak)
unreferenced object 0xffff888010b2c000 (size 64):
WARNING: possible circular locking dependency detected
WARNING: possible recursive locking detected
WARNING: inconsistent lock state
WARNING: suspicious RCU usage
watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [uffd-wp:497]
INFO: task uffd-wp:497 blocked for more than 120 seconds.
rcu: INFO: rcu_sched self-detected stall on CPU
general protection fault, probably for non-canonical address 0xdead000000000100
Kernel panic - not syncing: Fatal exception
EOF_SPLATS
echo "scan-log.sh catches all $n kinds of report and passes a clean log"
