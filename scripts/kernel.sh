#!/usr/bin/env bash
# make kernel [VARIANT=release|debug]: x86_64 bzImage of build/linux, built out
# of tree in build/kbuild-$VARIANT from tinyconfig plus the configs/ fragments.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

variant=${VARIANT:-release}
case "$variant" in
release) frags=(guest uffd clients) ;;
debug) frags=(guest uffd clients debug) ;;
*) die "VARIANT must be release or debug, not '$variant'" ;;
esac
if [ -z "${TREE:-}" ]; then
	[ -e "$tree/.git" ] || "$top/scripts/tree.sh"
elif [ ! -e "$tree/.git" ] && [ -z "${KERNEL_ANY_TREE:-}" ]; then
	die "no git tree at $tree"
fi
[ -f "$tree/Makefile" ] || die "no kernel source at $tree"
# The series' own tree: whatever is built is first saved in tracked files
# (commits to patches/, uncommitted edits to patches/wip.diff), so that no
# work lives only in build/. Other trees (make bench's base and reference
# kernels) are built as they are.
if [ -z "${TREE:-}" ]; then
	"$top/scripts/export.sh" --auto
fi
need_pkgs gcc make flex bison bc libelf-dev libssl-dev ccache cpio xz-utils

out=${KBUILD_OUT:-$build/kbuild-$variant}
mkdir -p "$out"
# The compiler cache lives outside the checkout, so that a fresh clone on
# the same machine (CI runs one after every session) compiles only what
# changed; ccache checks every input, so a hit is the same object.
export CCACHE_DIR=${CCACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/uffd-wp-ccache}
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}
# Hits across checkouts: paths under the checkout are hashed relative to
# it, and the build directory is left out of the hash (it only names the
# compilation directory in the debug info).
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$top} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
export KBUILD_BUILD_USER=uffd KBUILD_BUILD_HOST=series KBUILD_BUILD_TIMESTAMP="2000-01-01"
kmake() { make -s -C "$tree" O="$out" ARCH=x86_64 CC="ccache gcc" -j"$(nproc)" "$@"; }

paths=()
for f in "${frags[@]}"; do paths+=("$top/configs/$f.config"); done
# Regenerate .config only when a fragment or the tree changed, so an
# unchanged configuration never forces a rebuild.
stamp=$( (cat "${paths[@]}"; if [ -e "$tree/.git" ]; then
	git -C "$tree" rev-parse HEAD:arch/x86/Kconfig HEAD:mm/Kconfig
else cat "$tree/arch/x86/Kconfig" "$tree/mm/Kconfig"; fi) | md5sum | cut -c1-32)
if [ ! -f "$out/.config" ] || [ "$(cat "$out/.config.stamp" 2>/dev/null)" != "$stamp" ]; then
	note "configuring $variant: tinyconfig + ${frags[*]}"
	kmake tinyconfig >/dev/null
	(cd "$out" && "$tree/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "${paths[@]}" >/dev/null)
	kmake olddefconfig >/dev/null
	# A fragment option that Kconfig dropped (missing dependency) is a bug in
	# the fragment: say which, rather than test a kernel without it.
	bad=$(cat "${paths[@]}" | grep -E '^CONFIG_[A-Z0-9_]+=' | while IFS= read -r l; do
		grep -qxF "$l" "$out/.config" || { [ "${l#*=}" = n ] && ! grep -q "^${l%%=*}=" "$out/.config"; } || echo "$l"
	done)
	# A reference kernel of another version (make bench REF=) may have
	# renamed or dropped some: there they are only reported.
	if [ -n "$bad" ] && [ -n "${KCONFIG_LAX:-}" ]; then
		note "options this kernel does not take as given:"$'\n'"$bad"
	elif [ -n "$bad" ]; then
		die "config options not set as requested (missing dependencies?):"$'\n'"$bad"
	fi
	echo "$stamp" > "$out/.config.stamp"
fi

note "building $variant kernel in $out"
start=$(date +%s)
kmake bzImage
note "built $out/arch/x86/boot/bzImage in $(( $(date +%s) - start ))s"
