/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sweep: a 64 KiB firmware image for QEMU's -bios, the payload of the
 * real-client tests. It takes over at the reset vector, switches to flat
 * 32-bit protected mode and then, forever, sweeps over guest RAM from
 * SWEEP_START to SWEEP_END adding one to a 32-bit counter at the start of
 * every 4 KiB page.
 *
 * Any point-in-time image of that RAM therefore reads c+1 for the pages
 * before the sweep position and c for the pages from it on: one step, at
 * the page %edi points to (one further if the vCPU stopped right after the
 * increment, at sweep_add). A snapshot that saved some page after the
 * payload wrote it, or lost a page, shows a second step or a zero.
 *
 * No BIOS runs at all, which keeps the nested guest's start instant even
 * under two levels of TCG.
 */
#define ROM_BASE	0xf0000		/* low alias of the 64 KiB ROM */
#define SWEEP_START	0x100000	/* 1 MiB */
#define SWEEP_END	0x3f00000	/* 63 MiB: fits a 64 MiB guest */

	.code16
	.text
	.globl	_start
_start:
	cli
	cld
	/* Fast A20 gate (port 0x92), in case the machine came up with it off. */
	inb	$0x92, %al
	orb	$2, %al
	andb	$0xfe, %al
	outb	%al, $0x92

	movw	%cs, %ax
	movw	%ax, %ds
	lgdtl	gdt_desc
	movl	%cr0, %eax
	orl	$1, %eax
	movl	%eax, %cr0
	ljmpl	$0x08, $(ROM_BASE + protected)

	.code32
protected:
	movw	$0x10, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movl	$0x7000, %esp

	.globl	sweep_loop, sweep_add
sweep_loop:
	movl	$SWEEP_START, %edi
1:	incl	(%edi)
sweep_add:
	addl	$4096, %edi
	cmpl	$SWEEP_END, %edi
	jb	1b
	jmp	sweep_loop

	.p2align 3
gdt:
	.quad	0
	.quad	0x00cf9a000000ffff	/* 0x08: code, base 0, 4 GiB, 32-bit */
	.quad	0x00cf92000000ffff	/* 0x10: data, base 0, 4 GiB */
gdt_desc:
	.word	gdt_desc - gdt - 1
	.long	ROM_BASE + gdt

	/* The CPU starts at 0xfffffff0 with CS base 0xffff0000 (the ROM's
	 * last 16 bytes); jump to the low alias, where segment 0xf000 can
	 * address all of it.
	 */
	.org	0xfff0
	.code16
reset:
	ljmp	$0xf000, $_start
	.org	0x10000
