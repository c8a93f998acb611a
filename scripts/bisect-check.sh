#!/usr/bin/env bash
# make bisect-check: every prefix of the series builds.  Each commit of
# build/linux after the tag base (or after $BISECT_FROM) is checked out in
# turn in a worktree of its own, build/linux-bisect, and built as far as it
# changes something:
#   - a commit that touches the kernel (anything outside tools/ and
#     Documentation/): the release bzImage, incrementally, through ccache,
#     and any compiler warning in a file the commit touched fails it;
#   - a commit that touches our mm selftests or a UAPI header: the uffd-wp
#     programs that exist at that commit, against its own UAPI headers
#     (their warnings are listed in the log);
#   - anything else (documentation): listed, nothing to build.
# Stops at the first commit that does not build, and names it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ -d "$tree/.git" ] || die "no tree at $tree; run 'make tree' first"
need_pkgs gcc make gcc-multilib rsync

wt=$build/linux-bisect
out=$build/kbuild-bisect
hdr=$build/bisect-headers
bin=$build/bisect-selftests
log=$build/bisect-check.log
from=${BISECT_FROM:-base}
if [ ! -e "$wt/.git" ]; then
	note "adding the worktree $wt"
	git -C "$tree" worktree add --quiet -f --detach "$wt" "$from"
fi
mapfile -t commits < <(git -C "$tree" rev-list --reverse "$from..HEAD")
[ ${#commits[@]} -gt 0 ] || die "no commits between $from and HEAD in $tree"
mkdir -p "$bin"
: > "$log"
start=$(date +%s)
i=0 nk=0 nt=0
for c in "${commits[@]}"; do
	i=$((i + 1))
	subj=$(git -C "$tree" log -1 --format=%s "$c")
	git -C "$wt" checkout -q --detach "$c"
	mapfile -t files < <(git -C "$tree" diff-tree --no-commit-id --name-only -r "$c")
	kern=() tests=0
	for f in "${files[@]}"; do
		case $f in
		tools/testing/selftests/mm/*) tests=1 ;;
		tools/* | Documentation/*) ;;
		*) kern+=("$f") ;;
		esac
		case $f in include/uapi/*) tests=1 ;; esac
	done
	what=""
	if [ ${#kern[@]} -gt 0 ]; then
		what="kernel"
		if ! TREE=$wt KBUILD_OUT=$out VARIANT=release \
			"$top/scripts/kernel.sh" > "$build/bisect-step.log" 2>&1; then
			cat "$build/bisect-step.log" >&2
			die "[$i/${#commits[@]}] $c does not build: $subj"
		fi
		# A warning in a file this commit changed is this commit's.
		for f in "${kern[@]}"; do
			if grep -F "$f:" "$build/bisect-step.log" | grep -q 'warning:'; then
				grep -F "$f:" "$build/bisect-step.log" >&2
				die "[$i/${#commits[@]}] $c: compiler warning in $f: $subj"
			fi
		done
		nk=$((nk + 1))
	fi
	if [ $tests -eq 1 ]; then
		what="${what:+$what + }selftests"
		make -s -C "$wt" O="$build/kbuild-bisect-headers" ARCH=x86_64 headers_install \
			INSTALL_HDR_PATH="$hdr" > /dev/null
		targets=()
		for s in "$wt"/tools/testing/selftests/mm/uffd-wp*.c; do
			[ -e "$s" ] || continue
			p=$(basename "$s" .c)
			[ "$p" = uffd-wp-util ] && continue
			targets+=("$bin/$p")
			rm -f "$bin/$p"
		done
		if grep -q 'uffd-wp-pagemap-scan_32' "$wt/tools/testing/selftests/mm/Makefile"; then
			targets+=("$bin/uffd-wp-pagemap-scan_32")
			rm -f "$bin/uffd-wp-pagemap-scan_32"
		fi
		if [ ${#targets[@]} -gt 0 ] && ! make -s -C "$wt/tools/testing/selftests/mm" \
			OUTPUT="$bin" KHDR_INCLUDES="-isystem $hdr/include" \
			"${targets[@]}" > "$build/bisect-step.log" 2>&1; then
			cat "$build/bisect-step.log" >&2
			die "[$i/${#commits[@]}] $c: the selftests do not build: $subj"
		fi
		if grep -q 'warning:' "$build/bisect-step.log"; then
			what="$what (warnings)"
			sed "s|^|    ${c:0:12}: |" "$build/bisect-step.log" >> "$log"
		fi
		nt=$((nt + 1))
	fi
	printf '%3d/%d %s %-20s %s\n' "$i" "${#commits[@]}" "${c:0:12}" \
		"${what:-(nothing to build)}" "$subj" | tee -a "$log"
done
note "every prefix builds: ${#commits[@]} commits, $nk kernel builds, $nt selftest builds, $(( ($(date +%s) - start) / 60 )) min (log: $log)"
