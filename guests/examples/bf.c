/* bf - a brainfuck interpreter: the input is the program, then optionally a
 * '!' and the bytes that ',' reads (EOF reads as 0). 30000 byte cells.
 * Unbalanced brackets: a message and exit code 3; moving off the tape: 4. */
#include "tincan_guest.h"

#define TAPE     30000
#define PROG_MAX (1UL << 20)

static tc_u8 tape[TAPE];
static tc_u32 match[PROG_MAX];
static tc_u32 stack[PROG_MAX];

int main(const unsigned char *input, unsigned long len)
{
    const unsigned char *prog = input, *data = 0;
    unsigned long plen = len, dlen = 0, dpos = 0, sp = 0, ptr = 0;

    for (unsigned long i = 0; i < len; i++)
        if (input[i] == '!') {
            plen = i;
            data = input + i + 1;
            dlen = len - i - 1;
            break;
        }
    if (plen > PROG_MAX) {
        tc_printf("bf: the program is longer than %lu bytes\n", PROG_MAX);
        return 3;
    }
    for (unsigned long i = 0; i < plen; i++) {
        if (prog[i] == '[')
            stack[sp++] = (tc_u32)i;
        else if (prog[i] == ']') {
            if (!sp) {
                tc_printf("bf: unmatched ']' at %lu\n", i);
                return 3;
            }
            unsigned long j = stack[--sp];
            match[i] = (tc_u32)j;
            match[j] = (tc_u32)i;
        }
    }
    if (sp) {
        tc_printf("bf: unmatched '[' at %u\n", stack[sp - 1]);
        return 3;
    }
    for (unsigned long pc = 0; pc < plen; pc++) {
        switch (prog[pc]) {
        case '>':
            if (++ptr == TAPE)
                goto off_tape;
            break;
        case '<':
            if (ptr-- == 0)
                goto off_tape;
            break;
        case '+':
            tape[ptr]++;
            break;
        case '-':
            tape[ptr]--;
            break;
        case '.':
            tc_printf("%c", tape[ptr]);
            break;
        case ',':
            tape[ptr] = dpos < dlen ? data[dpos++] : 0;
            break;
        case '[':
            if (!tape[ptr])
                pc = match[pc];
            break;
        case ']':
            if (tape[ptr])
                pc = match[pc];
            break;
        default:
            break;
        }
    }
    return 0;
off_tape:
    tc_flush();
    tc_printf("bf: the pointer left the tape\n");
    return 4;
}
