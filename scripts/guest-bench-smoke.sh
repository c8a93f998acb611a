#!/usr/bin/env bash
# Runs inside the guest of `make check`: the benchmarks of `make bench` at
# smoke sizes, one repetition (scripts/guest-bench.sh), then checks that
# each memory type produced its cycle results: the PAGEMAP_SCAN cycle
# everywhere, soft-dirty everywhere but hugetlb (which soft-dirty does not
# track). Exit 0 only if every program passed (uffd-wp-bench fails on a
# cycle whose answer differs from the pages written) and nothing is
# missing. RESULTS_DIR and BENCH_BIN as for guest-bench.sh.
set -uo pipefail
out=${RESULTS_DIR:?}
BENCH_SIZE=16 BENCH_REPEAT=1 BENCH_RT=100 BENCH_ARM=1 BENCH_SNAP=16 \
	BENCH_STEP_TIMEOUT=300 "$(dirname "$0")/guest-bench.sh"
rc=$?
for f in "$out"/*.txt; do
	echo "### $(basename "$f")"
	grep -v '^S	' "$f"
done
for f in "$out"/*.err; do
	[ -s "$f" ] && { echo "### $(basename "$f")"; cat "$f"; }
done
[ $rc -eq 0 ] || { echo "bench-smoke: a benchmark failed (exit codes in $out/*.rc)"; exit 1; }
for t in anon thp shmem hugetlb ext4; do
	for m in scan softdirty; do
		[ $t/$m = hugetlb/softdirty ] && continue
		n=$(grep -cE "^R	cycle	$t	$m	[^	]+	[0-9.]+	ms$" "$out/cycle-$t.txt")
		if [ "$n" -ne 4 ]; then
			echo "bench-smoke: $t/$m: $n of 4 cycle results"
			exit 1
		fi
	done
done
echo "bench-smoke: every cycle answered correctly"
