#!/usr/bin/env bash
# Runs inside the guest (via scripts/vm.sh): every selftest program given on
# the command line, each under a timeout, TAP output into RESULTS_DIR; then a
# kmemleak scan whose report lands in the kernel log for scan-log.sh.
set -uo pipefail
results=${RESULTS_DIR:?}
per_test=${TEST_TIMEOUT:-600}
mkdir -p "$results"
# The debug kernel's delay knobs: a test killed by its timeout cannot reset
# them, and a knob left set would slow every later hugetlb walk.
knobs="/sys/kernel/debug/userfaultfd/hugetlb_walk_delay_ms /sys/kernel/debug/pagemap/scan_hugetlb_delay_ms"
# Prints "SECONDS-SINCE-EPOCH TEST-NAME" for every new " RUN " line of $1.
watch_runs() {
	local seen=0 n now
	while sleep 1; do
		n=$(grep -c ' RUN ' "$1" 2>/dev/null) || n=0
		[ "$n" -gt "$seen" ] || continue
		now=$(date +%s)
		grep ' RUN ' "$1" | sed -n "$((seen + 1)),${n}p" |
			awk -v t="$now" '{ print t, $(NF - 1) }'
		seen=$n
	done
}
for t in "$@"; do
	name=$(basename "$t")
	for k in $knobs; do [ -w "$k" ] && echo 0 > "$k"; done
	echo "### running $name"
	start=$(date +%s)
	# The harness flushes its " RUN " line before each test forks: a
	# watcher stamps each one, and check.sh lists the slowest tests
	# (make check has an hour in CI; this shows what to move out).
	: > "$results/$name.tap"
	watch_runs "$results/$name.tap" > "$results/$name.times" &
	watcher=$!
	timeout -k 10 "$per_test" "$t" > "$results/$name.tap" 2>&1
	rc=$?
	kill "$watcher" 2>/dev/null; wait "$watcher" 2>/dev/null
	echo "$(date +%s) END" >> "$results/$name.times"
	echo "# exit $rc after $(( $(date +%s) - start ))s" >> "$results/$name.tap"
	cat "$results/$name.tap"
	[ $rc -eq 124 ] && echo "### $name TIMED OUT after ${per_test}s"
done
# make check also runs a few real-client tests (scripts/guest-clients.sh)
# in the same guest, before the leak scan.
if [ -n "${CLIENT_TESTS:-}" ]; then
	echo "### running real clients: tests $CLIENT_TESTS"
	"$(dirname "$0")/guest-clients.sh" > /dev/null
fi
if [ -w /sys/kernel/debug/kmemleak ]; then
	echo "### kmemleak scan"
	echo scan > /sys/kernel/debug/kmemleak
	sleep 5
	echo scan > /sys/kernel/debug/kmemleak
	# Reports go to the console so that scan-log.sh sees them.
	sed 's/^/kmemleak-report: /' /sys/kernel/debug/kmemleak | head -60 > /dev/kmsg || true
	cat /sys/kernel/debug/kmemleak | head -60
fi
dmesg > "$results/dmesg.txt"
echo "### guest tests done"
