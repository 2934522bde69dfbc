/* Entry of the gx-vmm test guest: the VMM starts us in 64-bit long mode with
 * identity-mapped page tables and %rsi = Linux boot_params (the zero page). */
	.section .text.start, "ax"
	.globl _start
_start:
	lea	stack_top(%rip), %rsp
	mov	%rsi, %rdi
	call	guest_main
1:	hlt
	jmp	1b

	.section .bss
	.balign 16
stack:
	.skip	16384
stack_top:

	.section .note.GNU-stack, "", @progbits
