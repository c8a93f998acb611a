#!/usr/bin/env bash
# make check: build the debug kernel and our selftests, run them in one
# guest (make check-full: the tree's own userfaultfd selftest, more
# selftests and a few real-client tests too), fail on any test failure or
# kernel splat. Ends with the line
# "N passed, N failed, N skipped".
set -euo pipefail
. "$(dirname "$0")/lib.sh"

"$top/scripts/test-scan-log.sh"
[ -d "$tree/.git" ] || "$top/scripts/tree.sh"
VARIANT=debug "$top/scripts/kernel.sh"
"$top/scripts/selftests.sh"
# The tree's own userfaultfd selftest (what 6.1 had before the series), one
# run per memory type it knows; it adds the wp and minor variants itself
# wherever the kernel advertises them. Arguments as run_vmtests.sh gives
# them for the guest's 128 huge pages; a run is judged by its exit code.
kernel_runs=(
	"anon 20 16"
	"hugetlb 128 32"
	"hugetlb_shared 128 32 /dev/hugepages/uffd-selftest"
	"shmem 20 16"
)
names=(${SELFTESTS})
progs=()
for t in ${SELFTESTS:?}; do progs+=("$build/selftests/$t"); done
if [ -n "${CHECK_KERNEL_SELFTESTS-1}" ]; then
	SELFTESTS=userfaultfd "$top/scripts/selftests.sh"
	for r in "${kernel_runs[@]}"; do
		w=$build/selftests/userfaultfd-${r%% *}
		printf '#!/bin/sh\nrm -f /dev/hugepages/uffd-selftest\n"%s" %s\nrc=$?\nrm -f /dev/hugepages/uffd-selftest\nexit $rc\n' \
			"$build/selftests/userfaultfd" "$r" > "$w"
		chmod +x "$w"
		progs+=("$w") names+=("${w##*/}")
	done
fi
# The benchmarks at smoke sizes (what `make bench-smoke` runs on the release
# kernel), here on the debug kernel in the same guest: they must keep
# building and every cycle must find exactly the pages written. Judged by
# the exit code: a program that failed, an ERR result, or a memory type
# whose cycle could not run at all (n/a) fails it.
if [ -n "${CHECK_BENCH_SMOKE-1}" ]; then
	SELFTESTS="uffd-wp-bench uffd-wp-arm-bench uffd-wp-snapshot" "$top/scripts/selftests.sh"
	w=$build/selftests/bench-smoke
	printf '#!/bin/sh\nexec env RESULTS_DIR=%q BENCH_BIN=%q %q\n' \
		"$build/guest/results/bench-smoke" "$build/selftests" \
		"$top/scripts/guest-bench-smoke.sh" > "$w"
	chmod +x "$w"
	progs+=("$w") names+=(bench-smoke)
fi
# make check-full: a subset of `make check-clients` (scripts/guest-clients.sh
# numbers them) runs after the selftests in the same guest, for example QEMU
# background snapshot on memfd, its negative control, CRIU pre-dump +
# incremental dump + restore (clients tests 2 6 11).
clients=${CHECK_CLIENT_TESTS-}
[ -z "$clients" ] || build_clients

# make check leaves its slowest tests to make check-full (the harness
# programs drop the FIXTURE.TEST names in UWP_EXCLUDE, in every variant), and
# runs the model test with one seed instead of two, so that the CI command
# stays inside its hour: about 6 of its guest minutes.
if [ -n "${CHECK_FULL-}" ]; then
	exclude=${UWP_EXCLUDE-} model_seeds=${MODEL_SEEDS:-2}
else
	exclude=${UWP_EXCLUDE-killed_scanner.loses_nothing,whole_space.scan_can_be_killed,lifetime.exiting_child_zapped_through_rmap_reads_no_freed_context,wrong_rule.is_caught}
	model_seeds=${MODEL_SEEDS:-1}
	note "left to make check-full: ${exclude//,/ }; model seed 2"
fi

res=$build/guest/results
rm -rf "$res" && mkdir -p "$res"
log=$build/check/console.log
note "booting the debug kernel and running: ${names[*]}"
set +e
RESULTS_DIR=$res "$top/scripts/vm.sh" -v debug -t "${CHECK_TIMEOUT:-3900}" -l "$log" -- \
	env RESULTS_DIR="$res" TEST_TIMEOUT="${TEST_TIMEOUT:-1200}" \
	UWP_EXCLUDE="$exclude" MODEL_SEEDS="$model_seeds" \
	CLIENT_TESTS="$clients" CLIENTS_BIN="$build/clients" STEP_TIMEOUT="${STEP_TIMEOUT:-300}" \
	"$top/scripts/guest-tests.sh" "${progs[@]}" > /dev/null
vmrc=$?
set -e

pass=0 fail=0 skip=0
for t in "${names[@]}" ${clients:+clients}; do
	f=$res/$t.tap
	if [ ! -f "$f" ]; then
		echo "not ok - $t: never ran (guest exit $vmrc)"; fail=$((fail + 1)); continue
	fi
	# kselftest TAP: count ok / not ok / SKIP lines; tests the plan announced
	# but that never reported (a crash or timeout midway) count as failed.
	read -r p f_ s planned rc < <(awk '
		/^1\.\.[0-9]+$/ && !plan { plan = substr($0, 4) }
		/^ok [0-9]+/ { if ($0 ~ /# SKIP/) s++; else p++ }
		/^not ok [0-9]+/ { if ($0 ~ /# SKIP/) s++; else f++ }
		/^# exit [0-9]+ after/ { rc = $3 }
		END { printf "%d %d %d %d %d\n", p, f, s, plan, rc }' "$f")
	if [ "$planned" -eq 0 ]; then
		# Not a harness program: its exit code is the verdict (4 = KSFT_SKIP).
		case $rc in 0) p=1 ;; 4) s=1 ;; *) f_=1 ;; esac
	elif [ $((p + f_ + s)) -lt "$planned" ]; then
		echo "not ok - $t: only $((p + f_ + s)) of $planned tests reported (exit $rc)"
		f_=$((planned - p - s))
	fi
	grep -E '^not ok|TIMED OUT' "$f" | sed "s/^/$t: /" || true
	pass=$((pass + p)) fail=$((fail + f_)) skip=$((skip + s))
done

# The kernel log is one more test: any splat fails the run.
if "$top/scripts/scan-log.sh" "$log"; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
if [ "$vmrc" -ne 0 ]; then
	echo "!! the guest run exited with $vmrc (see $log)"
	fail=$((fail + 1))
fi
# Where the guest time went (guest-tests.sh stamps each test's start, to
# the second): the slowest tests, for keeping make check inside its hour.
cat "$res"/*.times 2>/dev/null | awk '
	prev != "" { t[prev] += $1 - start }
	{ prev = ($2 == "END") ? "" : $2; start = $1 }
	END { for (n in t) printf "%6d s  %s\n", t[n], n }' | sort -rn | head -15 |
	sed '1i slowest tests (guest seconds):' || true
echo "TAP and dmesg in $res, console log in $log"
echo "$pass passed, $fail failed, $skip skipped"
# What each failed test printed (its last lines), last: CI keeps only the
# tail of this output, and the guest's files go with the machine.
if [ "$fail" -gt 0 ]; then
	for t in "${names[@]}"; do
		[ -f "$res/$t.tap" ] || continue
		awk -v prog="$t" '
			/^#  RUN / { n = 0; name = $3 }
			{ buf[n++ % 30] = $0 }
			/^not ok [0-9]+/ && !/# SKIP/ {
				print "--- " prog ": " name " (its last lines)"
				for (i = (n > 30 ? n - 30 : 0); i < n; i++)
					print buf[i % 30]
			}' "$res/$t.tap"
	done
	echo "$pass passed, $fail failed, $skip skipped"
fi
[ "$fail" -eq 0 ]
