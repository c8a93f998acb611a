#!/usr/bin/env bash
# scan-log.sh CONSOLE_LOG: fail (exit 1) if the guest's kernel log shows any
# sign of a kernel bug, printing the offending lines with a little context.
set -euo pipefail
log=${1:?usage: scan-log.sh CONSOLE_LOG}
[ -s "$log" ] || { echo "scan-log: $log is empty: the guest printed nothing" >&2; exit 1; }

# Kernel splats as the kernel prints them: WARN/BUG, KASAN, KFENCE, kmemleak,
# lockdep (all its report headers), bad page state, page table check, soft and
# hard lockups, hung tasks, RCU stalls, oopses and panics.
pat='WARNING: |BUG: |BUG kmalloc|kernel BUG at|KASAN|KFENCE: |kmemleak: [0-9]+ new suspected|unreferenced object|possible circular locking|possible recursive locking|inconsistent lock state|lock held when returning|suspicious RCU usage|possible irq lock inversion|bad unlock balance|Bad page state|Bad page map|Bad rss-counter|page_table_check|soft lockup|hard LOCKUP|blocked for more than|rcu_sched self-detected stall|rcu: INFO: |detected stall|Oops|Kernel panic|general protection fault|invalid opcode:|Unable to handle|segfault at .* in (kernel|uffd)'
if grep -nEa "$pat" "$log" > /tmp/scan-log.$$; then
	echo "!! the guest kernel log has $(wc -l < /tmp/scan-log.$$) line(s) showing kernel bugs:" >&2
	while IFS=: read -r n _; do
		sed -n "$((n > 3 ? n - 3 : 1)),$((n + 12))p" "$log" | sed 's/^/   | /'
		echo '   ----'
	done < <(head -5 /tmp/scan-log.$$) >&2
	rm -f /tmp/scan-log.$$
	exit 1
fi
rm -f /tmp/scan-log.$$
echo "kernel log clean ($(wc -l < "$log") lines scanned)"
