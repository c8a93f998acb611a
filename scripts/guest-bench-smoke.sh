#!/usr/bin/env bash
# Runs inside the guest of `make check`: the benchmarks of `make bench` at
# smoke sizes, one repetition (scripts/guest-bench.sh), then checks that
# each memory type gave a cycle result for every method it has: all four
# everywhere, but no soft-dirty on hugetlb (soft-dirty does not track it)
# and no sync uffd-wp on ext4 (only WP_ASYNC works on regular files).
# Exit 0 only if every program passed (uffd-wp-bench fails on a cycle
# whose answer differs from the pages written) and nothing is missing.
# What the programs printed is shown behind "# ": some of it is TAP
# (uffd-wp-snapshot), which must not count as this test's own.
# RESULTS_DIR and BENCH_BIN as for guest-bench.sh.
set -uo pipefail
out=${RESULTS_DIR:?}
BENCH_SIZE=8 BENCH_REPEAT=1 BENCH_RT=50 BENCH_ARM=1 BENCH_SNAP=8 \
	BENCH_STEP_TIMEOUT=120 "$(dirname "$0")/guest-bench.sh"
rc=$?
# One process for all of it: each one costs in a TCG guest.
awk 'FNR == 1 { print "# ### " FILENAME } !/^S\t/ { print "#   " $0 }' \
	"$out"/*.txt "$out"/*.err
if [ $rc -ne 0 ]; then
	echo "bench-smoke: a benchmark failed, exit codes:" $(grep -H . "$out"/*.rc)
	exit 1
fi
for t in anon thp shmem hugetlb ext4; do
	for m in softdirty scan pagemap-wp sync; do
		case $t/$m in hugetlb/softdirty|ext4/sync) continue ;; esac
		n=$(grep -cE "^R	cycle	$t	$m	[^	]+	[0-9.]+	ms$" "$out/cycle-$t.txt" 2>/dev/null)
		if [ "${n:-0}" -ne 4 ]; then
			echo "bench-smoke: $t/$m: ${n:-0} of 4 cycle results"
			exit 1
		fi
	done
done
echo "bench-smoke: every cycle answered correctly"
