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
    tc_write_port(TINCAN_PORT_WRITE, outbuf, outlen);
    outlen = 0;
}

static void out(const char *p, tc_size_t n)
{
    if (n > OUTBUF_SIZE - outlen) {
        tc_flush();
        if (n > OUTBUF_SIZE) {
            tc_write_port(TINCAN_PORT_WRITE, p, n);
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

/* One conversion's flags, width, precision and length (C11 7.21.6.1). */
struct conv {
    int left, plus, space, alt, zero;
    int width, prec; /* prec -1: none given */
    int len;         /* enum below */
};

enum { LEN_INT, LEN_CHAR, LEN_SHORT, LEN_LONG, LEN_LLONG, LEN_SIZE };

/* Digits of v in base (16: lower or upper case) into the end of buf;
 * returns where they start. */
static char *digits(char *end, tc_u64 v, unsigned base, int upper)
{
    const char *set = upper ? "0123456789ABCDEF" : "0123456789abcdef";

    do {
        *--end = set[v % base];
        v /= base;
    } while (v);
    return end;
}

/* An integer conversion: sign or prefix, precision's zeros, width. */
static int put_int(const struct conv *c, char conv, tc_u64 mag, int neg)
{
    char buf[24], *end = buf + sizeof(buf), *d;
    const char *prefix = "";
    unsigned base = conv == 'o' ? 8 : (conv == 'x' || conv == 'X') ? 16 : 10;
    int n, zeros = 0, plen, total;

    d = digits(end, mag, base, conv == 'X');
    n = (int)(end - d);
    if (c->prec == 0 && mag == 0)
        n = 0; /* "%.0d" of 0 prints no digit */
    if (c->prec > n)
        zeros = c->prec - n;
    if (neg)
        prefix = "-";
    else if ((conv == 'd' || conv == 'i') && c->plus)
        prefix = "+";
    else if ((conv == 'd' || conv == 'i') && c->space)
        prefix = " ";
    else if (c->alt && conv == 'o' && zeros == 0 && (n == 0 || *d != '0'))
        zeros = 1;
    else if (c->alt && base == 16 && mag)
        prefix = conv == 'X' ? "0X" : "0x";
    plen = (int)strlen(prefix);
    total = plen + zeros + n;
    if (c->zero && !c->left && c->prec < 0 && c->width > total)
        zeros += c->width - total, total = c->width;
    if (!c->left)
        pad(' ', c->width - total);
    out(prefix, (tc_size_t)plen);
    pad('0', zeros);
    out(d, (tc_size_t)n);
    if (c->left)
        pad(' ', c->width - total);
    return total > c->width ? total : c->width;
}

static int put_str(const struct conv *c, const char *s, tc_size_t n)
{
    int w = (int)n;

    if (!c->left)
        pad(' ', c->width - w);
    out(s, n);
    if (c->left)
        pad(' ', c->width - w);
    return w > c->width ? w : c->width;
}

/* A number in the format, or * from the arguments. */
static int number(const char **f, va_list *ap)
{
    int v = 0;

    if (**f == '*') {
        (*f)++;
        return va_arg(*ap, int);
    }
    while (**f >= '0' && **f <= '9')
        v = v * 10 + (*(*f)++ - '0');
    return v;
}

static void parse(const char **f, struct conv *c, va_list *ap)
{
    for (;; (*f)++) {
        if (**f == '-')
            c->left = 1;
        else if (**f == '+')
            c->plus = 1;
        else if (**f == ' ')
            c->space = 1;
        else if (**f == '#')
            c->alt = 1;
        else if (**f == '0')
            c->zero = 1;
        else
            break;
    }
    c->width = number(f, ap);
    if (c->width < 0) { /* a negative * width: left-justified */
        c->left = 1;
        c->width = -c->width;
    }
    c->prec = -1;
    if (**f == '.') {
        (*f)++;
        c->prec = number(f, ap);
        if (c->prec < 0)
            c->prec = -1; /* a negative * precision: as if none */
    }
    if (**f == 'h') {
        c->len = (*f)[1] == 'h' ? LEN_CHAR : LEN_SHORT;
        *f += c->len == LEN_CHAR ? 2 : 1;
    } else if (**f == 'l') {
        c->len = (*f)[1] == 'l' ? LEN_LLONG : LEN_LONG;
        *f += c->len == LEN_LLONG ? 2 : 1;
    } else if (**f == 'z' || **f == 't' || **f == 'j') {
        c->len = LEN_SIZE; /* size_t, ptrdiff_t, intmax_t: 64 bits */
        (*f)++;
    }
}

static long signed_arg(const struct conv *c, va_list *ap)
{
    switch (c->len) {
    case LEN_CHAR:
        return (signed char)va_arg(*ap, int);
    case LEN_SHORT:
        return (short)va_arg(*ap, int);
    case LEN_INT:
        return va_arg(*ap, int);
    default:
        return va_arg(*ap, long);
    }
}

static tc_u64 unsigned_arg(const struct conv *c, va_list *ap)
{
    switch (c->len) {
    case LEN_CHAR:
        return (unsigned char)va_arg(*ap, unsigned int);
    case LEN_SHORT:
        return (unsigned short)va_arg(*ap, unsigned int);
    case LEN_INT:
        return va_arg(*ap, unsigned int);
    default:
        return va_arg(*ap, unsigned long);
    }
}

int tc_printf(const char *fmt, ...)
{
    static const char unsupported[] = "(unsupported)";
    va_list ap;
    int total = 0;

    va_start(ap, fmt);
    for (const char *f = fmt; *f; f++) {
        struct conv c = {0};
        const char *s;
        long v;
        char ch;

        if (*f != '%') {
            out(f, 1);
            total++;
            continue;
        }
        f++;
        parse(&f, &c, &ap);
        switch (*f) {
        case 'd':
        case 'i':
            v = signed_arg(&c, &ap);
            total += put_int(&c, *f, v < 0 ? (tc_u64)0 - (tc_u64)v : (tc_u64)v,
                             v < 0);
            break;
        case 'u':
        case 'o':
        case 'x':
        case 'X':
            total += put_int(&c, *f, unsigned_arg(&c, &ap), 0);
            break;
        case 'p':
            c.alt = 1;
            c.len = LEN_LONG;
            total += put_int(&c, 'x', (tc_u64)va_arg(ap, void *), 0);
            break;
        case 'c':
            ch = (char)va_arg(ap, int);
            total += put_str(&c, &ch, 1);
            break;
        case 's':
            s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            tc_size_t n = 0;
            while (s[n] && (c.prec < 0 || n < (tc_size_t)c.prec))
                n++;
            total += put_str(&c, s, n);
            break;
        case '%':
            out("%", 1);
            total++;
            break;
        default:
            /* Refused: say so where it stands, and read no argument. */
            out("%!", 2);
            if (*f)
                out(f, 1);
            out(unsupported, sizeof(unsupported) - 1);
            va_end(ap);
            return -1;
        }
    }
    va_end(ap);
    return total;
}
