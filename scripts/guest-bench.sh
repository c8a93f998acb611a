#!/usr/bin/env bash
# Runs inside the guest (via scripts/vm.sh): the benchmarks of `make bench`
# on whatever kernel booted, results into $RESULTS_DIR:
#   settings      what the figures depend on inside the guest
#   cycle-TYPE.txt, roundtrip.txt   uffd-wp-bench ("R" lines + tables)
#   arm.txt       uffd-wp-arm-bench (markdown rows)
#   snapshot-MEM-wN.txt             uffd-wp-snapshot with N writer threads
#   NAME.rc       the exit status of the program that wrote NAME.txt
#   done          written last: the run completed
# Exits 1 if a program failed (uffd-wp-bench: a wrong answer, ERR).
# BENCH_BIN holds the static binaries; BENCH_SIZE (MiB), BENCH_REPEAT,
# BENCH_RT (round trips), BENCH_ARM (GiB sizes), BENCH_SNAP (MiB) size it,
# BENCH_SYNC_FAULTS caps the faults of each sync cycle result.
set -uo pipefail
out=${RESULTS_DIR:?} bin=${BENCH_BIN:?}
size=${BENCH_SIZE:-1024} repeat=${BENCH_REPEAT:-5} rt=${BENCH_RT:-2000}
arm=${BENCH_ARM:-1 8 64} snap=${BENCH_SNAP:-256}
step=${BENCH_STEP_TIMEOUT:-1800}
# The sync method's cycles: at most this many faults per result
sync_faults=${BENCH_SYNC_FAULTS:-32768}
mkdir -p "$out"
rm -f "$out/done"

{
	echo "cpus $(nproc)"
	echo "memory $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
	echo "nodes $(ls -d /sys/devices/system/node/node[0-9]* | wc -l)"
	echo "thp $(cat /sys/kernel/mm/transparent_hugepage/enabled)"
	echo "thp_defrag $(cat /sys/kernel/mm/transparent_hugepage/defrag)"
	echo "swap $(awk 'NR == 2 { print $1, $3 }' /proc/swaps)"
	echo "clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
	echo "size_mib $size repeat $repeat roundtrips $rt arm_gib $arm snapshot_mib $snap sync_faults $sync_faults"
} > "$out/settings"

failed=0
run() {
	local name=$1 rc; shift
	echo "### bench: $name: $*"
	timeout -k 10 "$step" "$@" > "$out/$name.txt" 2> "$out/$name.err"
	rc=$?
	echo $rc > "$out/$name.rc"
	echo "### bench: $name: exit $rc"
	[ $rc -eq 0 ] || failed=1
}

# The regular-file cycle needs a file of the region's size, and the guest's
# ext4 (scripts/guest-setup.sh) has 256 MiB: for more, an ext4 of its own on
# a zram disk, in memory but compressed (the benchmark writes one byte of
# each page, the rest stays zero).
ext4dir=/tmp/uffd-wp-ext4
if [ "$(df -m --output=avail "$ext4dir" | tail -1)" -lt $((size + 32)) ]; then
	id=$(cat /sys/class/zram-control/hot_add)
	echo $((size + 128))M > "/sys/block/zram$id/disksize"
	mkfs.ext4 -q "/dev/zram$id"
	ext4dir=/tmp/uffd-wp-bench-ext4
	mkdir -p "$ext4dir"
	mount "/dev/zram$id" "$ext4dir"
	echo "ext4 on zram, $((size + 128)) MiB" >> "$out/settings"
fi

# 1 GiB of hugetlb needs 512 huge pages: reserve them only for its run,
# so that the other types see the usual guest.
hp0=$(cat /proc/sys/vm/nr_hugepages)
for t in anon thp shmem hugetlb ext4; do
	hp=$((size / 2 + 16))
	[ $t = hugetlb ] && [ $hp -gt "$hp0" ] && echo $hp > /proc/sys/vm/nr_hugepages
	run "cycle-$t" "$bin/uffd-wp-bench" -b cycle -s "$size" -r "$repeat" -t $t -d "$ext4dir" \
		-F "$sync_faults"
	[ $t = hugetlb ] && echo "$hp0" > /proc/sys/vm/nr_hugepages
done
run roundtrip "$bin/uffd-wp-bench" -b roundtrip -s $((size < 64 ? size : 64)) -n "$rt"
# uffd-wp-arm-bench takes at most 15 repetitions
# shellcheck disable=SC2086
run arm "$bin/uffd-wp-arm-bench" -r $((repeat > 15 ? 15 : repeat)) $arm
# The snapshot pattern as often as the rest: the report takes medians.
for m in anon memfd; do
	for w in 1 2; do
		for i in $(seq 1 "$repeat"); do
			run "snapshot-$m-w$w-$i" "$bin/uffd-wp-snapshot" -m $m -s "$snap" -w $w
		done
	done
done
date -u +%s > "$out/done"
exit $failed
