#!/usr/bin/env bash
# Runs inside the guest (via scripts/vm.sh): the real-client tests of
# `make check-clients`, each under a timeout, as kselftest-style TAP in
# $RESULTS_DIR/clients.tap. CLIENTS_BIN holds the built payloads (sweep.bin,
# sweep.sym, criu-memtest); CLIENT_TESTS, if set, picks tests by number.
set -uo pipefail
results=${RESULTS_DIR:?} bin=${CLIENTS_BIN:?}
step=${STEP_TIMEOUT:-300}
src=$(cd "$(dirname "$0")/../clients" && pwd)
export STEP_TIMEOUT=$step

tests=(
	"qemu checker memfd"
	"qemu snapshot memfd"
	"qemu snapshot hugetlbfs"
	"qemu snapshot ram"
	"qemu torn memfd"
	"qemu refused ext4"
	"qemu postcopy memfd"
	"qemu postcopy hugetlbfs"
	"qemu postcopy ram"
	"criu check"
	"criu predump"
	"criu shmem"
	"criu stale"
	"criu lazy"
	"pressure qemu snapshot memfd --pageout"
	"pressure qemu snapshot hugetlbfs"
	"pressure criu predump"
)
pick=${CLIENT_TESTS:-$(seq -s ' ' 1 ${#tests[@]})}

vmstat() { awk -v k="$1" '$1 ~ k { s += $2 } END { print s + 0 }' /proc/vmstat; }

# pressure KIND ARGS...: a client test again while stress-ng fills all
# but 512 MiB of the guest's available memory (pushing it into swap) and
# pages its own memory out and in (MADV_PAGEOUT), with compaction forced
# every 5 seconds; the run must have swapped and compacted to count. More
# (--thrash, or memory beyond what zram can take) ends in the OOM killer
# and a nested guest too starved to run, which tests nothing.
pressure() {
	local out=$results/stress-ng.log sp cp rc alive vmmib
	local swap0 comp0 swap1 comp1
	swap0=$(vmstat '^pswpout$') comp0=$(vmstat '^compact_(migrate|free)_scanned$')
	local in0 in1
	in0=$(vmstat '^pswpin$')
	vmmib=$(awk '/^MemAvailable:/ { print int($2 / 1024) - 512 }' /proc/meminfo)
	echo "# stress-ng --vm-bytes ${vmmib}M"
	timeout -k 5 $((step * 3)) stress-ng --temp-path /tmp --vm 1 --vm-bytes "${vmmib}M" \
		--vm-keep --pageswap 1 --timeout $((step * 3))s >"$out" 2>&1 &
	sp=$!
	( while sleep 5; do echo 1 > /proc/sys/vm/compact_memory; done ) &
	cp=$!
	sleep 20
	run_one "$@"
	rc=$?
	swap1=$(vmstat '^pswpout$') comp1=$(vmstat '^compact_(migrate|free)_scanned$')
	in1=$(vmstat '^pswpin$')
	alive=yes
	kill -0 "$sp" 2>/dev/null || alive=no
	# timeout leads its own process group: stop stress-ng and its workers.
	kill "$cp"; kill -INT -- "-$sp" 2>/dev/null; wait "$sp" "$cp" 2>/dev/null
	sed 's/^/# stress-ng: /' "$out" | tail -5
	echo "# under pressure: $((swap1 - swap0)) pages swapped out, $((in1 - in0)) in," \
		"$((comp1 - comp0)) pages scanned by compaction"
	if [ "$alive" = no ]; then
		echo "FAIL pressure: stress-ng was not running through the test"; return 1
	fi
	if [ "$rc" -eq 0 ] && { [ $((swap1 - swap0)) -eq 0 ] || [ $((in1 - in0)) -eq 0 ] ||
		[ $((comp1 - comp0)) -eq 0 ]; }; then
		echo "FAIL pressure: no swap-out, swap-in or compaction happened"; return 1
	fi
	return "$rc"
}

run_one() {
	local kind=$1; shift
	case $kind in
	qemu) "$src/qemu-clients.py" --sweep "$bin/sweep.bin" --symbols "$bin/sweep.sym" "$@" ;;
	criu) "$src/criu.sh" "$1" "$bin/criu-memtest" ;;
	pressure) pressure "$@" ;;
	esac
}

# One test, as a child process so that timeout can bound it.
if [ "${1:-}" = --one ]; then
	# shellcheck disable=SC2086
	run_one ${tests[$(($2 - 1))]}
	exit
fi

mkdir -p "$results"
tap=$results/clients.tap
# shellcheck disable=SC2086
set -- $pick
t0=$(date +%s)
{
	echo "TAP version 13"
	echo "1..$#"
	i=0
	for n in "$@"; do
		t=${tests[$((n - 1))]}
		i=$((i + 1))
		echo "# RUN $t"
		# A QEMU killed by an earlier timeout may have left its guest RAM.
		rm -f /dev/hugepages/qemu-client-*
		start=$(date +%s)
		timeout -k 10 $((step * 3)) "$0" --one "$n" 2>&1 | sed 's/^[^#]/# &/'
		rc=${PIPESTATUS[0]}
		secs=$(( $(date +%s) - start ))
		if [ "$rc" -eq 0 ]; then
			echo "ok $i $t (client test $n, ${secs}s)"
		else
			[ "$rc" -eq 124 ] && echo "# TIMED OUT after $((step * 3))s"
			echo "not ok $i $t (client test $n, exit $rc, ${secs}s)"
		fi
	done
} | tee "$tap"
echo "# exit $(grep -c '^not ok' "$tap") after $(( $(date +%s) - t0 ))s" >> "$tap"
dmesg > "$results/dmesg.txt"
echo "### guest clients done"
