#!/usr/bin/env bash
# make bench: the benchmarks of the series (tools/testing/selftests/mm:
# uffd-wp-bench, uffd-wp-arm-bench, uffd-wp-snapshot), run on
#   series  the release kernel of the series (build/kbuild-release),
# and with REF= set, in turn, also on
#   base    the unpatched base 6.1, same config fragments (build/kbuild-base),
#   ref     REF=DIR (a kernel source tree), REF=FILE.dsc (a Debian source
#           package) or REF=FILE.tar.xz (Debian's linux-source-X.Y
#           tarball), built from the same fragments,
# in the identical guest, with the same static binaries. Writes
# build/bench/report.md (printed too), build/bench/samples.csv (the raw
# samples) and build/bench/scan.png; fails if a result is ERR.
#
#   BENCH_SIZE=MiB   region of the cycle benchmark (default 1024)
#   BENCH_REPS=N     repetitions, medians over them (default 5)
#   BENCH_SYNC_FAULTS=N  faults per sync cycle result (default 32768: the
#                    100 % cell of 1 GiB is n/a, see uffd-wp-bench -F)
#   BENCH_ICOUNT=1   deterministic mode: QEMU's instruction-count clock
#   BENCH_SMOKE=1    small sizes, one repetition, series kernel only
#   BENCH_KERNELS    which of "series base ref" to (re)run; with REF= set,
#                    the results of the others are reused from build/bench/
#                    if their settings match (the report refuses to mix
#                    settings); without it, the report has the series alone
set -euo pipefail
. "$(dirname "$0")/lib.sh"

out=$build/bench
bin=$out/bin
mkdir -p "$out" "$bin"
# qemu-system-x86 before its version goes into the settings (vm.sh would
# install it only at the first boot).
need_pkgs gcc make libc6-dev python3-matplotlib qemu-system-x86

if [ -n "${BENCH_SMOKE:-}" ]; then
	export BENCH_SIZE=${BENCH_SIZE:-64} BENCH_REPEAT=${BENCH_REPS:-1} BENCH_RT=${BENCH_RT:-100}
	export BENCH_ARM=${BENCH_ARM:-1} BENCH_SNAP=${BENCH_SNAP:-32}
	kernels=${BENCH_KERNELS:-series}
	out=$out/smoke
	mkdir -p "$out"
else
	kernels=${BENCH_KERNELS:-series${REF:+ base ref}}
fi
export BENCH_SIZE=${BENCH_SIZE:-1024} BENCH_REPEAT=${BENCH_REPS:-${BENCH_REPEAT:-5}}
export BENCH_RT=${BENCH_RT:-2000} BENCH_ARM=${BENCH_ARM:-1 8 64} BENCH_SNAP=${BENCH_SNAP:-256}
if [ -n "${BENCH_ICOUNT:-}" ]; then
	# One instruction = 2^0 ns of guest time, no sleeping ahead of it:
	# guest clocks count instructions, whatever the host is doing.
	# One vCPU: QEMU 7.2 hangs bringing up a second x86 vCPU under
	# -icount (at "x86: Booting SMP configuration", with sleep on or off).
	mode="icount (-icount shift=0,sleep=off, 1 vCPU)"
	export VM_QEMU_OPTS="-icount shift=0,sleep=off" VM_CPUS=1
else
	mode="realtime (host clock)"
	export VM_QEMU_OPTS=""
fi

[ -d "$tree/.git" ] || "$top/scripts/tree.sh"

# The kernels.
image() { echo "$build/kbuild-${1/series/release}/arch/x86/boot/bzImage"; }
for k in $kernels; do
	case $k in
	series) VARIANT=release "$top/scripts/kernel.sh" ;;
	base)
		if [ ! -d "$build/linux-base" ]; then
			note "checking out the pristine base (tag base) in build/linux-base"
			git -C "$tree" worktree add -f --detach "$build/linux-base" base >/dev/null
		fi
		TREE=$build/linux-base KBUILD_OUT=$build/kbuild-base VARIANT=release \
			"$top/scripts/kernel.sh"
		;;
	ref)
		[ -n "${REF:-}" ] || die "BENCH_KERNELS has ref but REF= is not set"
		src=$REF
		if [ -f "$REF" ]; then
			case $REF in
			*.dsc) need_pkgs dpkg-dev
				src=$build/ref-src
				id="$(readlink -f "$REF") $(stat -c '%s %Y' "$REF")"
				if [ ! -f "$src/Makefile" ] || [ "$(cat "$src/.ref-source" 2>/dev/null)" != "$id" ]; then
					rm -rf "$src" "$build/kbuild-ref"
					dpkg-source --no-check -x "$REF" "$src" >/dev/null
					echo "$id" > "$src/.ref-source"
				fi ;;
			*.tar.*) # e.g. /usr/src/linux-source-6.12.tar.xz
				src=$build/ref-src
				# Extracted again when REF names another tarball or it changed.
				id="$(readlink -f "$REF") $(stat -c '%s %Y' "$REF")"
				if [ ! -f "$src/Makefile" ] || [ "$(cat "$src/.ref-source" 2>/dev/null)" != "$id" ]; then
					note "extracting $REF into $src"
					# tar keeps the tarball's mtimes: make could take
					# the old objects for newer, so they go too.
					rm -rf "$src" "$build/kbuild-ref" && mkdir -p "$src"
					tar -xf "$REF" -C "$src" --strip-components=1
					echo "$id" > "$src/.ref-source"
				fi ;;
			*) die "REF must be a kernel source directory, a .dsc or a source tarball" ;;
			esac
		fi
		[ -f "$src/Makefile" ] || die "REF: no kernel source in $src"
		TREE=$(cd "$src" && pwd) KBUILD_OUT=$build/kbuild-ref VARIANT=release \
			KERNEL_ANY_TREE=1 KCONFIG_LAX=1 "$top/scripts/kernel.sh"
		;;
	*) die "unknown kernel '$k' in BENCH_KERNELS" ;;
	esac
done
# The same static binaries on every kernel, built against the series' UAPI.
hdr=$build/headers
need_pkgs rsync
make -s -C "$tree" O="$build/kbuild-headers" ARCH=x86_64 headers_install INSTALL_HDR_PATH="$hdr"
progs=(uffd-wp-bench uffd-wp-arm-bench uffd-wp-snapshot)
targets=()
for p in "${progs[@]}"; do targets+=("$bin/$p"); rm -f "$bin/$p"; done
make -s -C "$tree/tools/testing/selftests/mm" OUTPUT="$bin" EXTRA_CFLAGS=-static \
	KHDR_INCLUDES="-isystem $hdr/include" "${targets[@]}"
binsum=$(cd "$bin" && md5sum "${progs[@]}" | md5sum | cut -c1-12)

for k in $kernels; do
	res=$out/$k
	rm -rf "$res" && mkdir -p "$res"
	{
		echo "mode $mode"
		echo "guest $( (grep -E -- '--cpus|--memory|--numa|-smp|--append' "$top/scripts/vm.sh"; echo "cpus ${VM_CPUS:-2}") | tr -s ' \t' ' ' | md5sum | cut -c1-12)"
		echo "qemu $(dpkg-query -W -f='${Version}' qemu-system-x86)"
		# As scripts/vm.sh decides
		if grep -Eqw 'vmx|svm' /proc/cpuinfo && [ -w /dev/kvm ]; then
			echo "accel kvm"
		else
			echo "accel tcg"
		fi
		echo "binaries $binsum"
	} > "$res/settings.host"
	note "booting the $k kernel for the benchmarks ($mode)"
	set +e
	"$top/scripts/vm.sh" -k "$(image "$k")" -t "${BENCH_TIMEOUT:-7200}" -l "$res/console.log" -- \
		env RESULTS_DIR="$res" BENCH_BIN="$bin" BENCH_SIZE="$BENCH_SIZE" \
		BENCH_REPEAT="$BENCH_REPEAT" BENCH_RT="$BENCH_RT" BENCH_ARM="$BENCH_ARM" \
		BENCH_SNAP="$BENCH_SNAP" BENCH_SYNC_FAULTS="${BENCH_SYNC_FAULTS:-32768}" \
		"$top/scripts/guest-bench.sh" > /dev/null
	rc=$?
	set -e
	[ -f "$res/done" ] || die "the $k kernel's run did not complete (guest exit $rc, see $res/console.log)"
	grep -m1 -ao 'Linux version [^ ]*' "$res/console.log" | sed 's/^Linux version /kernel /' >> "$res/settings.host"
	"$top/scripts/scan-log.sh" "$res/console.log" || die "kernel splat on the $k kernel (see $res/console.log)"
done

# Debian's python3 has python3-matplotlib (need_pkgs above), whatever python3 is first on PATH.
# The kernels of this run, and with REF= set (or BENCH_KERNELS naming
# some), those of an earlier run that this one completes.
report=series
[ -n "${REF:-}" ] && report="series base ref"
for k in $kernels; do case " $report " in *" $k "*) ;; *) report="$report $k" ;; esac; done
/usr/bin/python3 "$top/scripts/bench-report.py" "$out" $report
