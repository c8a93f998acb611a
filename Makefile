# uffd-wp for file-backed memory, and the dirty tracking built on it:
# a patch series against Debian 12's Linux 6.1 (linux-source-6.1).
#
# `make help` lists the targets. The series lives in patches/; you edit it in
# build/linux (a git tree: pristine base tagged `base`, one commit per patch).

# Our selftests (tools/testing/selftests/mm in the series), run by `make check`;
# `make check-full` adds the slow ones (the kernel's own userfaultfd test, the
# pager soak, the 32-bit build of the PAGEMAP_SCAN test), four slow
# concurrency tests, the model test's second seed and three real-client
# tests, so that the CI command stays inside its hour from a fresh clone.
SELFTESTS := uffd-wp uffd-wp-unpopulated uffd-wp-async uffd-wp-pagemap-scan uffd-wp-snapshot uffd-wp-writewatch uffd-wp-model
SELFTESTS_FULL := uffd-wp-ranges uffd-wp-pager uffd-wp-pagemap-scan_32
CLIENT_TESTS_FULL := 2 6 11
# The demonstrations `make run` boots into: a live snapshot, Windows write watch.
DEMO := uffd-wp-snapshot uffd-wp-writewatch uffd-wp-model
VARIANT ?= release

S := scripts
export SELFTESTS VARIANT

.PHONY: help run check check-full check-clients bench bench-smoke bench-arm tree export kernel selftests shell bisect-check checkpatch clean distclean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-13s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "  (VARIANT=release|debug for kernel, shell)"

run: ## the main job: install, build, boot the patched kernel, run the demos (snapshot, write watch)
	@DEMO="$(DEMO)" $(S)/run.sh

check: ## the test command: debug kernel, our selftests, log scan
	@CHECK_KERNEL_SELFTESTS= $(S)/check.sh

check-full: ## make check plus the kernel's userfaultfd test, the pager soak, the 32-bit PAGEMAP_SCAN test, 4 slow tests, model seed 2, 3 real-client tests
	@CHECK_FULL=1 CHECK_KERNEL_SELFTESTS=1 SELFTESTS="$(SELFTESTS) $(SELFTESTS_FULL)" CHECK_CLIENT_TESTS="$(CLIENT_TESTS_FULL)" $(S)/check.sh

check-clients: ## Debian's QEMU (background snapshot, postcopy) and CRIU (pre-dump, lazy pages) in the debug guest
	@$(S)/check-clients.sh

bench: ## benchmarks on the series' release kernel (REF=tree|.dsc|.tar.xz adds base 6.1 and that kernel): table, CSV, plot in build/bench
	@$(S)/bench.sh

bench-smoke: ## the benchmarks at small sizes, one repetition, release kernel (make check runs them on the debug kernel)
	@BENCH_SMOKE=1 $(S)/bench.sh

bench-arm: ## time and page tables to uffd-wp-arm an unpopulated 1 and 8 GiB range
	@$(S)/bench-arm.sh

tree: ## build/linux = pristine linux-source-6.1 (tag base) + patches/ (git am); WIP=1 adds patches/wip.diff
	@$(S)/tree.sh

export: ## regenerate patches/ (and the cover letter's diffstat) from build/linux; uncommitted edits to patches/wip.diff
	@$(S)/export.sh

kernel: ## build bzImage of build/linux (VARIANT=release or debug)
	@$(S)/kernel.sh

selftests: ## build our selftests against the tree's UAPI headers
	@$(S)/selftests.sh

shell: ## boot the patched kernel into an interactive shell
	@[ -f build/kbuild-$(VARIANT)/arch/x86/boot/bzImage ] || $(S)/kernel.sh
	@$(S)/vm.sh -v $(VARIANT) -t 86400

bisect-check: ## every prefix of the series builds: release kernel per kernel patch, selftests per test patch (BISECT_FROM=rev)
	@$(S)/bisect-check.sh

checkpatch: ## scripts/checkpatch.pl --strict on every patch of the series
	@cd build/linux && ./scripts/checkpatch.pl --strict --terse --no-summary \
		$(addprefix $(CURDIR)/patches/,$(shell grep -v '^#' patches/series))

clean: ## remove kernel builds and test results, keep build/linux and caches
	rm -rf build/kbuild-* build/selftests build/guest build/check build/run build/bench build/headers \
		build/bisect-*

distclean: ## remove all of build/ (including build/linux: export first!)
	rm -rf build
