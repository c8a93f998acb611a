#!/usr/bin/env bash
# Runs inside the guest before the command it is given (scripts/vm.sh).
# Makes every guest the same test machine, then execs the command.
set -euo pipefail
say() { printf 'guest-setup: %s\n' "$*" >&2; }
# Seconds since the guest kernel started, for where boot time goes.
up() { cut -d' ' -f1 /proc/uptime; }
say "start at $(up) s of uptime"

mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
mkdir -p /dev/hugepages
mountpoint -q /dev/hugepages || mount -t hugetlbfs none /dev/hugepages

# zram swap, so MADV_PAGEOUT and reclaim really swap protected pages out.
if [ -e /sys/block/zram0 ] && ! grep -q zram0 /proc/swaps; then
	echo 512M > /sys/block/zram0/disksize
	mkswap /dev/zram0 >/dev/null
	swapon /dev/zram0
fi
grep -q zram0 /proc/swaps || { say "no zram swap: is CONFIG_ZRAM built in?"; exit 1; }

# Empty filesystem images that scripts/vm.sh made on the host; without
# them, mkfs here (about 90 s in a TCG guest).
fsimg=$(dirname "$0")/../build/guest/fs-images-v1.tar
if [ -s "$fsimg" ] && [ ! -e /tmp/uffd-wp-ext4.img ]; then
	tar -C /tmp -xSf "$fsimg" || say "could not extract $fsimg: mkfs instead"
fi

# ext4 on a loop device: regular files for the tests of uffd-wp on disk
# filesystems (UFFD_FEATURE_WP_ASYNC); uffd-wp-util.h looks here.
ext4=/tmp/uffd-wp-ext4
if ! mountpoint -q "$ext4"; then
	mkdir -p "$ext4"
	if [ ! -e /tmp/uffd-wp-ext4.img ]; then
		truncate -s 256M /tmp/uffd-wp-ext4.img
		mkfs.ext4 -q -F /tmp/uffd-wp-ext4.img
	fi
	mount -o loop /tmp/uffd-wp-ext4.img "$ext4"
fi
mountpoint -q "$ext4" || { say "no ext4 at $ext4: loop and ext4 built in?"; exit 1; }

# xfs and btrfs as well (UFFD_FEATURE_WP_ASYNC on each disk filesystem, and
# their reflink paths); sparse images, as small as mkfs allows.
for fs in xfs:320M btrfs:256M; do
	name=${fs%%:*} dir=/tmp/uffd-wp-${fs%%:*}
	if ! mountpoint -q "$dir"; then
		mkdir -p "$dir"
		if [ ! -e "/tmp/uffd-wp-$name.img" ]; then
			truncate -s "${fs#*:}" "/tmp/uffd-wp-$name.img"
			"mkfs.$name" -q -f "/tmp/uffd-wp-$name.img" >/dev/null
		fi
		mount -o loop "/tmp/uffd-wp-$name.img" "$dir"
	fi
	mountpoint -q "$dir" || { say "no $name at $dir: is it built in?"; exit 1; }
done

echo always > /sys/kernel/mm/transparent_hugepage/enabled
echo madvise > /sys/kernel/mm/transparent_hugepage/defrag
echo advise > /sys/kernel/mm/transparent_hugepage/shmem_enabled

nodes=$(ls -d /sys/devices/system/node/node[0-9]* | wc -l)
hp=$(cat /proc/sys/vm/nr_hugepages)
[ "$hp" -ge 128 ] || { say "only $hp huge pages reserved, expected 128"; exit 1; }
say "$(nproc) cpus, $nodes numa nodes, $hp huge pages, swap $(awk 'NR==2{print $3}' /proc/swaps)k, ext4, xfs, btrfs under /tmp/uffd-wp-*; ready at $(up) s of uptime"

# Forget boot-time kmemleak candidates; scan-log.sh only wants what the
# command leaks.
[ -w /sys/kernel/debug/kmemleak ] && echo clear > /sys/kernel/debug/kmemleak

exec "$@"
