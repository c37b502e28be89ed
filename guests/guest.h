/*
 * guest.h - helpers shared by the test guests (GNU as, included after
 * tincan_abi.h). Not part of the ABI: the ABI is sdk/tincan_abi.h + ABI.md.
 */
#ifndef TINCAN_GUEST_H
#define TINCAN_GUEST_H

/* Scratch buffer of the pattern guests: 1 MiB, just above the code and input.
 * A guest that fills LEN bytes here needs --mem >= SCRATCH + LEN. */
#define SCRATCH 0x100000

/* Exit code of a guest whose input is too short for what it expects. */
#define EXIT_BAD_INPUT 2

/* Fill %rcx bytes (may be 0) at %rdi with byte[i] = (i * 7 + 3) & 0xff.
 * The pattern repeats every 256 bytes, so only the first 256 bytes are stored
 * one by one; the rest is copied forward from 256 bytes back with rep movsq
 * (+ rep movsb for the tail), which keeps the instruction count low (matters
 * where KVM has to emulate the guest). Clobbers rax, rcx, rdx, rsi, rdi; DF=0.
 */
.macro fill_pattern cld movq % rcx, % rdx /* total */
                                            movl $256,
    % eax cmpq % rax, % rcx cmova % rax, %
                                             rcx /* head = min(total, 256) */
                                                 subq %
                                             rcx,
    % rdx /* rest = total - head */
            movb $3,
    % al jrcxz.Lfill_done\@.Lfill_head\@ : movb % al, (% rdi) addb $7,
    % al incq % rdi decq % rcx jnz.Lfill_head\@leaq - 256(% rdi),
    %
        rsi /* rest is 0 unless the head was 256 */
        movq
        % rdx,
    % rcx shrq $3, % rcx rep movsq movl % edx, % ecx andl $7,
    %
        ecx rep movsb.Lfill_done\
        @ :.endm

               /* End the job with status ok and exit code 0 (port write, so
                * that a host which failed to end the job here would fault on
                * the ud2 instead of passing). */
               .macro exit_ok xorl
        % eax,
    % eax outb % al, $TINCAN_PORT_EXIT ud2.endm

#endif
