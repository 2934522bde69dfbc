/* The smallest guest: power off through the ACPI sleep control register the
 * FADT names (port 0x600, SLP_TYP=5 | SLP_EN). Used by the start-up benchmark. */
	.section .text.start, "ax"
	.globl _start
_start:
	mov	$0x600, %dx
	mov	$0x34, %al
	out	%al, %dx
1:	hlt
	jmp	1b

	.section .note.GNU-stack, "", @progbits
