#!/usr/bin/env bash
# make bench-arm: time and page-table cost of write-protecting an unpopulated
# 1 GiB and 8 GiB range (UFFD_FEATURE_WP_UNPOPULATED, and shmem for
# comparison), on the release kernel in the standard guest.  Prints a
# markdown table and keeps it in build/bench/arm.md for the benchmarks.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
prog=uffd-wp-arm-bench

[ -d "$tree/.git" ] || "$top/scripts/tree.sh"
VARIANT=release "$top/scripts/kernel.sh"
SELFTESTS=$prog "$top/scripts/selftests.sh"

out=$build/bench
mkdir -p "$build/guest" "$out"
report=$build/guest/$prog.report
rm -f "$report"
note "booting the release kernel and running $prog ${BENCH_ARM_ARGS:=-r 5 1 8}"
set +e
"$top/scripts/vm.sh" -v release -t "${BENCH_TIMEOUT:-1200}" -l "$out/arm-console.log" -- \
	sh -c "'$build/selftests/$prog' $BENCH_ARM_ARGS > '$report' 2>&1" > /dev/null
rc=$?
set -e
[ -f "$report" ] || die "no report from the guest (exit $rc)"
kernel=$(grep -m1 -ao 'Linux version [^ ]*' "$out/arm-console.log" || true)
{
	echo "# $prog, $(date -u +%Y-%m-%d), $kernel, QEMU TCG guest (2 vCPUs, 3 GiB)"
	echo
	cat "$report"
} | tee "$out/arm.md"
"$top/scripts/scan-log.sh" "$out/arm-console.log" || rc=1
exit "$rc"
