#!/usr/bin/env bash
# make selftests: export the patched tree's UAPI headers and build our mm
# selftests against them into build/selftests (host build, run in the guest).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ -d "$tree/.git" ] || die "no tree at $tree; run 'make tree' first"
need_pkgs gcc make libc6-dev rsync gcc-multilib

hdr=$build/headers
make -s -C "$tree" O="$build/kbuild-headers" ARCH=x86_64 headers_install INSTALL_HDR_PATH="$hdr"
out=$build/selftests
mkdir -p "$out"
targets=()
for t in ${SELFTESTS:?}; do targets+=("$out/$t"); done
make -s -C "$tree/tools/testing/selftests/mm" OUTPUT="$out" \
	KHDR_INCLUDES="-isystem $hdr/include" "${targets[@]}"
note "built ${SELFTESTS} in $out"
