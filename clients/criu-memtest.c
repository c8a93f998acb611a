// SPDX-License-Identifier: GPL-2.0
/*
 * criu-memtest: the process CRIU checkpoints in `make check-clients`.
 *
 *   criu-memtest STATUS_FILE
 *
 * It holds three kinds of memory, each of REGION_PAGES pages: private
 * anonymous (THP-sized and aligned, so part of it may be a huge page),
 * shared anonymous and a shared memfd mapping. It rewrites pages forever,
 * picked by a fixed-seed xorshift generator from the first HOT_PAGES of
 * each region, each with a pattern made of the region, the page index and
 * the page's version (its own generation count), and keeps the versions in
 * its own (anonymous) memory. The rest of each region, whole 2 MiB ranges,
 * is written once at the start: an incremental dump must leave those pages
 * to its parent image. It does not use userfaultfd itself (CRIU refuses to
 * dump such a task).
 *
 * On SIGUSR1 it finishes the page it is writing, then checks every page of
 * every region against its versions,
 * writes "PASS ..." or "FAIL ..." to STATUS_FILE and exits 0 or 1. A page
 * that a pre-dump saved and the final dump failed to save again after a
 * later write (soft-dirty lost), or that a lazy restore failed to deliver,
 * shows up as a wrong version. "READY" is written once all memory is
 * populated, followed by the pages per region, the rewritten pages at
 * the start of each region and the private region's address, so the
 * driver knows when to start dumping and where to look in the images.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE_SIZE	4096UL
#define REGION_PAGES	8192UL		/* 32 MiB per region */
#define HOT_PAGES	(REGION_PAGES / 4)	/* rewritten; a multiple of 512 */
#define NR_REGIONS	3
#define WORDS		(PAGE_SIZE / sizeof(uint64_t))

static const char *const region_names[NR_REGIONS] = {
	"private anonymous", "shared anonymous", "memfd",
};
static uint64_t *regions[NR_REGIONS];
static uint32_t *versions;		/* NR_REGIONS * REGION_PAGES */
static volatile sig_atomic_t verify_requested;
static const char *status_path;

static uint64_t pattern(int r, unsigned long page, uint32_t version, unsigned long w)
{
	uint64_t x = ((uint64_t)r << 56) ^ ((uint64_t)page << 32) ^ version;

	x ^= w * 0x9e3779b97f4a7c15ULL;
	x ^= x >> 29;
	return x * 0xbf58476d1ce4e5b9ULL;
}

static void fill(int r, unsigned long page, uint32_t version)
{
	uint64_t *p = regions[r] + page * WORDS;
	unsigned long w;

	for (w = 0; w < WORDS; w++)
		p[w] = pattern(r, page, version, w);
}

static void status(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int fd, n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fd = open(status_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, buf, n) != n)
		exit(3);
	close(fd);
}

static int verify(void)
{
	unsigned long page, w, checked = 0;
	int r;

	for (r = 0; r < NR_REGIONS; r++) {
		for (page = 0; page < REGION_PAGES; page++) {
			uint32_t v = versions[r * REGION_PAGES + page];
			uint64_t *p = regions[r] + page * WORDS;
			for (w = 0; w < WORDS; w++) {
				if (p[w] != pattern(r, page, v, w)) {
					status("FAIL %s page %lu word %lu: expected version %u\n",
					       region_names[r], page, w, v);
					return 1;
				}
			}
			checked++;
		}
	}
	status("PASS %lu pages verified\n", checked);
	return 0;
}

static void on_usr1(int sig)
{
	(void)sig;
	verify_requested = 1;
}

int main(int argc, char **argv)
{
	size_t len = REGION_PAGES * PAGE_SIZE;
	unsigned long writes = 0;
	uint64_t seed = 0x2545f4914f6cdd1dULL;
	char *raw;
	int memfd, r;
	unsigned long page;

	if (argc != 2) {
		fprintf(stderr, "usage: %s STATUS_FILE\n", argv[0]);
		return 2;
	}
	status_path = argv[1];
	/* Whatever the launcher leaked (a console, a device) CRIU may not dump. */
	close_range(3, ~0U, 0);
	signal(SIGUSR1, on_usr1);

	/* Private anonymous, 2 MiB aligned so THP can back it. */
	raw = mmap(NULL, len + (2UL << 20), PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return 2;
	regions[0] = (uint64_t *)(((uintptr_t)raw + (2UL << 20) - 1) & ~((2UL << 20) - 1));
	/*
	 * Half of its rewritten part in base pages: soft-dirty marks a THP
	 * written as a whole, which would hide a page saved a generation
	 * too old; the other half stays THP-eligible.
	 */
	if (madvise(regions[0], HOT_PAGES / 2 * PAGE_SIZE, MADV_NOHUGEPAGE))
		return 2;
	regions[1] = mmap(NULL, len, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	memfd = memfd_create("criu-memtest", 0);
	if (memfd < 0 || ftruncate(memfd, len))
		return 2;
	regions[2] = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	versions = calloc(NR_REGIONS * REGION_PAGES, sizeof(*versions));
	if (regions[1] == MAP_FAILED || regions[2] == MAP_FAILED || !versions)
		return 2;

	for (r = 0; r < NR_REGIONS; r++)
		for (page = 0; page < REGION_PAGES; page++)
			fill(r, page, 0);
	status("READY %lu %lu %#lx\n", REGION_PAGES, HOT_PAGES, (unsigned long)regions[0]);

	while (!verify_requested) {
		unsigned long idx;

		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		r = seed % NR_REGIONS;
		page = (seed >> 8) % HOT_PAGES;
		idx = r * REGION_PAGES + page;
		fill(r, page, versions[idx] + 1);
		versions[idx]++;
		/*
		 * Pace the writer, so that a page written between two dumps
		 * is often left alone after the second: a restore that takes
		 * such a page from the wrong parent image must be noticed.
		 */
		if (++writes % 2 == 0)
			usleep(1000);
	}
	return verify();
}
