/*
 * libtincan_guest.c - the freestanding support library of C guests: the
 * memory and string functions compiled code expects, number formatting and
 * parsing, and a small buffered printf into the job's output. Not a libc.
 */
#include <stdarg.h>

#include "tincan_guest.h"

/*
 * Whole quadwords, then the tail. On hardware rep movsb is as fast, but an
 * emulator steps a rep string instruction one element at a time: eight
 * bytes per step makes it eight times fewer steps.
 */
void *memcpy(void *dst, const void *src, tc_size_t n)
{
    void *ret = dst;
    tc_size_t quads = n / 8, tail = n % 8;

    __asm__ volatile("rep movsq"
                     : "+D"(dst), "+S"(src), "+c"(quads)
                     :
                     : "memory");
    __asm__ volatile("rep movsb"
                     : "+D"(dst), "+S"(src), "+c"(tail)
                     :
                     : "memory");
    return ret;
}

void *memmove(void *dst, const void *src, tc_size_t n)
{
    tc_u8 *d = dst;
    const tc_u8 *s = src;

    if (d <= s || d >= s + n)
        return memcpy(dst, src, n);
    while (n--)
        d[n] = s[n];
    return dst;
}

/* Quadwords, then the tail, as memcpy does. */
void *memset(void *dst, int c, tc_size_t n)
{
    void *ret = dst;
    tc_u64 v = (tc_u8)c * 0x0101010101010101UL; /* c in every byte */
    tc_size_t quads = n / 8, tail = n % 8;

    __asm__ volatile("rep stosq" : "+D"(dst), "+c"(quads) : "a"(v) : "memory");
    __asm__ volatile("rep stosb" : "+D"(dst), "+c"(tail) : "a"(v) : "memory");
    return ret;
}

int memcmp(const void *a, const void *b, tc_size_t n)
{
    const tc_u8 *p = a, *q = b;

    for (tc_size_t i = 0; i < n; i++)
        if (p[i] != q[i])
            return p[i] < q[i] ? -1 : 1;
    return 0;
}

tc_size_t strlen(const char *s)
{
    tc_size_t n = 0;

    while (s[n])
        n++;
    return n;
}

int tc_fmt_u64(char *buf, tc_u64 v)
{
    char tmp[20];
    int n = 0, i = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        buf[i++] = tmp[--n];
    return i;
}

int tc_fmt_i64(char *buf, long v)
{
    if (v < 0) {
        buf[0] = '-';
        return 1 + tc_fmt_u64(buf + 1, (tc_u64)0 - (tc_u64)v);
    }
    return tc_fmt_u64(buf, (tc_u64)v);
}

int tc_fmt_hex(char *buf, tc_u64 v, int width)
{
    static const char digits[] = "0123456789abcdef";
    int n = 1, i;

    while (n < 16 && (v >> (4 * n)))
        n++;
    if (n < width)
        n = width > 16 ? 16 : width;
    for (i = 0; i < n; i++)
        buf[i] = digits[(v >> (4 * (n - 1 - i))) & 15];
    return n;
}

tc_u64 tc_parse_u64(const char **s, const char *end)
{
    tc_u64 v = 0;

    while (*s < end && (**s < '0' || **s > '9'))
        (*s)++;
    while (*s < end && **s >= '0' && **s <= '9') {
        v = v * 10 + (tc_u64)(**s - '0');
        (*s)++;
    }
    return v;
}

#define OUTBUF_SIZE 4096
static char outbuf[OUTBUF_SIZE];
static tc_size_t outlen;

void tc_flush(void)
{
    tc_write(outbuf, outlen);
    outlen = 0;
}

static void out(const char *p, tc_size_t n)
{
    if (n > OUTBUF_SIZE - outlen) {
        tc_flush();
        if (n > OUTBUF_SIZE) {
            tc_write(p, n);
            return;
        }
    }
    memcpy(outbuf + outlen, p, n);
    outlen += n;
}

static void pad(char c, int n)
{
    while (n-- > 0)
        out(&c, 1);
}

int tc_printf(const char *fmt, ...)
{
    va_list ap;
    int total = 0;

    va_start(ap, fmt);
    for (const char *f = fmt; *f; f++) {
        char num[24], zero = ' ';
        const char *s = num;
        int width = 0, lng = 0, n;

        if (*f != '%') {
            out(f, 1);
            total++;
            continue;
        }
        f++;
        if (*f == '0')
            zero = '0';
        while (*f >= '0' && *f <= '9')
            width = width * 10 + (*f++ - '0');
        while (*f == 'l')
            lng = 1, f++;
        switch (*f) {
        case 'd':
        case 'i':
            n = tc_fmt_i64(num, lng ? va_arg(ap, long) : va_arg(ap, int));
            break;
        case 'u':
            n = tc_fmt_u64(num, lng ? va_arg(ap, unsigned long)
                                    : va_arg(ap, unsigned int));
            break;
        case 'x':
        case 'X':
            n = tc_fmt_hex(
                num, lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int),
                0);
            break;
        case 'p':
            num[0] = '0', num[1] = 'x';
            n = 2 + tc_fmt_hex(num + 2, (tc_u64)va_arg(ap, void *), 0);
            break;
        case 'c':
            num[0] = (char)va_arg(ap, int);
            n = 1;
            break;
        case 's':
            s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            n = (int)strlen(s);
            break;
        case '%':
            num[0] = '%';
            n = 1;
            break;
        default: /* unknown conversion: print it as it stands */
            out(f - 1, 2);
            total += 2;
            continue;
        }
        if (*f == 'X')
            for (int i = 0; i < n; i++)
                if (num[i] >= 'a')
                    num[i] = (char)(num[i] - 'a' + 'A');
        pad(zero, width - n);
        out(s, (tc_size_t)n);
        total += (width > n ? width : n);
    }
    va_end(ap);
    return total;
}
