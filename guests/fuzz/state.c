/*
 * state: a session is a sequence of 4-byte commands; a small state machine
 * takes INIT, AUTH, OPEN, SEEK and then BOOM, in that order (anything else
 * starts over), and on BOOM writes a byte to a debug port the ABI does not
 * have -> unhandled_io, OUT to port 0x66. Each step is its own branch, so
 * coverage sees every state reached and the compare log gives the next
 * command. The fixed build ignores BOOM.
 */
#include "tincan_guest.h"

#define CMD_LEN 4
/* The commands, as the little-endian words of their ASCII. */
#define CMD(a, b, c, d)                                                        \
    ((unsigned)(a) | (unsigned)(b) << 8 | (unsigned)(c) << 16 |                \
     (unsigned)(d) << 24)
#define CMD_INIT   CMD('I', 'N', 'I', 'T')
#define CMD_AUTH   CMD('A', 'U', 'T', 'H')
#define CMD_OPEN   CMD('O', 'P', 'E', 'N')
#define CMD_SEEK   CMD('S', 'E', 'E', 'K')
#define CMD_BOOM   CMD('B', 'O', 'O', 'M')
#define DEBUG_PORT 0x66

enum state { IDLE, READY, AUTHED, OPENED, SEEKED };

static void debug_trap(void)
{
#ifndef TINCAN_FUZZ_FIXED
    __asm__ volatile("outb %%al, %0" : : "i"(DEBUG_PORT), "a"(0));
#endif
}

int main(const unsigned char *input, unsigned long len)
{
    enum state s = IDLE;
    unsigned steps = 0;

    for (unsigned long i = 0; i + CMD_LEN <= len; i += CMD_LEN) {
        unsigned w;

        memcpy(&w, input + i, CMD_LEN);
        switch (s) {
        case IDLE:
            s = w == CMD_INIT ? READY : IDLE;
            break;
        case READY:
            if (w == CMD_AUTH) {
                tc_putc('a');
                s = AUTHED;
            } else {
                s = IDLE;
            }
            break;
        case AUTHED:
            if (w == CMD_OPEN) {
                steps += 2;
                s = OPENED;
            } else {
                s = IDLE;
            }
            break;
        case OPENED:
            if (w == CMD_SEEK) {
                tc_putc('s');
                s = SEEKED;
            } else {
                s = IDLE;
            }
            break;
        case SEEKED:
            if (w == CMD_BOOM)
                debug_trap();
            s = IDLE;
            break;
        }
        steps++;
    }
    return (int)(steps & 0x7f);
}
