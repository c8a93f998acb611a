#!/usr/bin/env bash
# Boot a kernel of ours with virtme-ng (host root over 9p, read-only with
# overlays) and run one command in it, under a timeout.
#
#   scripts/vm.sh [-v VARIANT | -k BZIMAGE] [-t SECONDS] [-l CONSOLE_LOG]
#                 [-- COMMAND...]
#
# -k boots any kernel image (make bench: the base and reference kernels).
# VM_QEMU_OPTS adds QEMU options (make bench: -icount); VM_CPUS=1 boots one
# vCPU and one NUMA node instead of two.
# Without COMMAND it opens an interactive shell. The guest runs
# scripts/guest-setup.sh first (zram swap, THP, debugfs), so every run sees
# the same machine: 2 vCPUs, 2 NUMA nodes, 128 reserved 2 MiB huge pages.
# The exit status is COMMAND's; 124 means the guest hit the timeout.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

variant=${VARIANT:-release} timeout=${VM_TIMEOUT:-900} log="" kimg=""
while [ $# -gt 0 ]; do
	case "$1" in
	-v) variant=$2; shift 2 ;;
	-k) kimg=$2; shift 2 ;;
	-t) timeout=$2; shift 2 ;;
	-l) log=$2; shift 2 ;;
	--) shift; break ;;
	*) die "unknown option $1 (see the comment at the top of $0)" ;;
	esac
done

[ -n "$kimg" ] || kimg=$build/kbuild-$variant/arch/x86/boot/bzImage
[ -f "$kimg" ] || die "no $variant kernel at $kimg; run 'make kernel VARIANT=$variant'"
need_pkgs qemu-system-x86 python3-venv udev e2fsprogs xfsprogs btrfs-progs
venv=$build/venv
if ! "$venv/bin/pip" freeze 2>/dev/null | grep -qxFf "$top/scripts/requirements.txt"; then
	note "installing $(cat "$top/scripts/requirements.txt") into $venv"
	python3 -m venv "$venv"
	"$venv/bin/pip" install -q -r "$top/scripts/requirements.txt" || die "pip install of virtme-ng failed"
fi

# KVM only when it can work: /dev/kvm alone is not enough (a nested guest
# without vmx/svm hangs), so also require the CPU flag.
export PATH="$venv/bin:$PATH"
kvm=(--disable-kvm)
if grep -Eqw 'vmx|svm' /proc/cpuinfo && [ -w /dev/kvm ]; then kvm=(); fi

mkdir -p "$build/guest"
# Empty ext4, XFS and btrfs images for guest-setup.sh, made here once with
# the same mkfs the guest would run (the guest shares this root): mkfs takes
# about 90 s in the TCG guest, extracting them from a sparse tar a second.
# The name changes with the sizes and options.
fsimg=$build/guest/fs-images-v1.tar
if [ ! -s "$fsimg" ]; then
	d=$(mktemp -d)
	truncate -s 256M "$d/uffd-wp-ext4.img" && mkfs.ext4 -q -F "$d/uffd-wp-ext4.img"
	truncate -s 320M "$d/uffd-wp-xfs.img" && mkfs.xfs -q -f "$d/uffd-wp-xfs.img" >/dev/null
	truncate -s 256M "$d/uffd-wp-btrfs.img" && mkfs.btrfs -q -f "$d/uffd-wp-btrfs.img" >/dev/null
	tar -C "$d" -cSf "$fsimg.$$" uffd-wp-ext4.img uffd-wp-xfs.img uffd-wp-btrfs.img
	mv "$fsimg.$$" "$fsimg"
	rm -rf "$d"
fi
inner="$top/scripts/guest-setup.sh"
if [ $# -gt 0 ]; then
	cmd=$(printf '%q ' "$@")
	run=(--exec "$inner $cmd")
else
	run=(--exec "$inner bash -i")
fi

args=(
	--run "$kimg" "${kvm[@]}" --memory 3G
)
if [ "${VM_CPUS:-2}" = 1 ]; then
	# One vCPU, one node (make bench's instruction-count mode: QEMU 7.2
	# hangs bringing up a second x86 vCPU under -icount).
	args+=(--cpus 1 --qemu-opts "-smp 1${VM_QEMU_OPTS:+ $VM_QEMU_OPTS}")
else
	args+=(--cpus 2 --numa 1536M,cpus=0 --numa 1536M,cpus=1
		# One socket per node, or the scheduler warns that CPUs
		# sharing a cache sit on different nodes.
		--qemu-opts "-smp 2,sockets=2,cores=1,threads=1${VM_QEMU_OPTS:+ $VM_QEMU_OPTS}")
fi
args+=(
	--append "hugepages=128 transparent_hugepage=always panic_on_warn=0 oops=panic panic=-1 printk.time=1"
	--rwdir "$build/guest" --cwd "$top" --verbose "${run[@]}"
)
# make bench writes its results from inside the guest too.
if [ -d "$build/bench" ]; then
	args+=(--rwdir "$build/bench")
fi
if [ -n "$log" ]; then
	mkdir -p "$(dirname "$log")"
	# The console (kernel log and the command's output) goes to the log and
	# to the terminal; the kernel log is what scripts/scan-log.sh reads.
	set +e
	timeout -k 20 "$timeout" "$venv/bin/vng" "${args[@]}" </dev/null 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	set -e
else
	set +e
	timeout -k 20 "$timeout" "$venv/bin/vng" "${args[@]}"
	rc=$?
	set -e
fi
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	printf '\n!! guest timed out after %ss: it hung or ran far slower than expected; see %s\n' \
		"$timeout" "${log:-the output above}" >&2
	exit 124
fi
exit "$rc"
