/*
 * tincan_guest.h - the guest side of the tincan ABI for guests written in C:
 * the ABI's numbers (tincan_abi.h) plus inline helpers to write output (one
 * VM exit per call, through the bulk-write port), put a character, and end
 * the job. crt0.S calls
 *
 *     int main(const unsigned char *input, unsigned long len);
 *
 * and ends the job with main's return value as the exit code.
 */
#ifndef TINCAN_GUEST_H
#define TINCAN_GUEST_H

#include "tincan_abi.h"

typedef unsigned char tc_u8;
typedef unsigned short tc_u16;
typedef unsigned int tc_u32;
typedef unsigned long tc_u64;
typedef unsigned long tc_size_t;

/* The bulk-write descriptor: the port takes its (32-bit) address. */
struct tc_write_desc {
    tc_u64 addr;
    tc_u64 len;
};

static inline void tc_outb(tc_u16 port, tc_u8 v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void tc_outl(tc_u16 port, tc_u32 v)
{
    __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

void tc_flush(void);

/* One bulk write of len bytes at buf to port (0x12: output, 0x15: stderr),
 * with nothing of tc_printf's buffer first. */
static inline void tc_write_port(tc_u16 port, const void *buf, tc_size_t len)
{
    struct tc_write_desc d = {(tc_u64)buf, len};

    if (len)
        tc_outl(port, (tc_u32)(tc_u64)&d);
}

/* Append len bytes at buf to the job's output, in one VM exit, after what
 * tc_printf has buffered (so the output keeps the calls' order). */
static inline void tc_write(const void *buf, tc_size_t len)
{
    tc_flush();
    tc_write_port(TINCAN_PORT_WRITE, buf, len);
}

/* Append len bytes at buf to the job's stderr, in one VM exit. */
static inline void tc_write_err(const void *buf, tc_size_t len)
{
    tc_write_port(TINCAN_PORT_ERR_WRITE, buf, len);
}

/* Append one byte (one VM exit: prefer tc_write or tc_printf's buffer),
 * after what tc_printf has buffered. */
static inline void tc_putc(char c)
{
    tc_flush();
    tc_outb(TINCAN_PORT_OUTPUT, (tc_u8)c);
}

/* End the job now, with status ok and this exit code. */
static inline __attribute__((noreturn)) void tc_exit(tc_u32 code)
{
    tc_outl(TINCAN_PORT_EXIT, code);
    for (;;)
        __asm__ volatile("hlt");
}

/* The freestanding support library (libtincan_guest.c). */
void *memcpy(void *dst, const void *src, tc_size_t n);
void *memmove(void *dst, const void *src, tc_size_t n);
void *memset(void *dst, int c, tc_size_t n);
int memcmp(const void *a, const void *b, tc_size_t n);
tc_size_t strlen(const char *s);

/* Decimal and hex formatting into buf; return the number of chars. */
int tc_fmt_u64(char *buf, tc_u64 v);
int tc_fmt_i64(char *buf, long v);
int tc_fmt_hex(char *buf, tc_u64 v, int width);

/* Parse a decimal number at *s, advancing *s; 0 if there is none. */
tc_u64 tc_parse_u64(const char **s, const char *end);

/*
 * printf-style output, as C's printf for these: conversions d i u o x X c s
 * p %, flags - + space # 0, width and precision (numbers or *), lengths hh
 * h l ll z t j. Any other conversion (floating point: f e g a; n) is
 * refused: it prints "%!f(unsupported)", tc_printf stops there and returns
 * -1, so no later argument is read as the wrong type. Else returns the
 * characters written. Buffered: tc_flush() (crt0 calls it after main, and
 * tc_write and tc_putc before writing) writes what is pending; the buffer
 * also flushes when full.
 */
int tc_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
