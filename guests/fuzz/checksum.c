/*
 * checksum: a packet is "CK", a type byte, a payload and the 32-bit FNV-1a
 * of everything before it, little-endian, at its end. The type is read
 * first; a packet whose checksum holds is dispatched on its type, and the
 * dispatch table has handlers for types 0 to 3 only: types 4 to 7 call a
 * null pointer -> fault, #PF at rip 0 (an instruction fetch). Only an
 * input whose checksum is right gets there: the compare log hands the
 * fuzzer the checksum to put at the end. The fixed build checks the type.
 */
#include "tincan_guest.h"

#define FNV_OFFSET 2166136261u
#define FNV_PRIME  16777619u
#define HEADER     3 /* "CK", type */
#define CHECKSUM   4
#define TYPES      8

static unsigned fnv1a(const unsigned char *p, unsigned long n)
{
    unsigned h = FNV_OFFSET;

    for (unsigned long i = 0; i < n; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

static int ping(const unsigned char *p, unsigned long n)
{
    tc_write("pong\n", 5);
    return (int)(n ? p[0] : 0);
}

static int echo(const unsigned char *p, unsigned long n)
{
    tc_write(p, n);
    return 0;
}

static int sum(const unsigned char *p, unsigned long n)
{
    unsigned s = 0;

    for (unsigned long i = 0; i < n; i++)
        s += p[i];
    tc_printf("%u\n", s);
    return 0;
}

static int count(const unsigned char *p, unsigned long n)
{
    (void)p;
    tc_printf("%lu\n", n);
    return 0;
}

static int (*const handlers[TYPES])(const unsigned char *, unsigned long) = {
    ping, echo, sum, count, /* 4..7: not written yet */
};

/* Some work per type before the checksum, as a parser validating fields. */
static const char *type_name(unsigned t)
{
    switch (t) {
    case 0:
        return "ping";
    case 1:
        return "echo";
    case 2:
        return "sum";
    case 3:
        return "count";
    case 4:
        return "reset";
    case 5:
        return "load";
    case 6:
        return "store";
    default:
        return "debug";
    }
}

int main(const unsigned char *input, unsigned long len)
{
    unsigned stored, type;
    const char *name;

    if (len < HEADER + CHECKSUM || input[0] != 'C' || input[1] != 'K')
        return 0;
    type = input[2] % TYPES;
    name = type_name(type);
    memcpy(&stored, input + len - CHECKSUM, CHECKSUM);
    if (fnv1a(input, len - CHECKSUM) != stored)
        return 1;
    tc_printf("%s\n", name);
#ifdef TINCAN_FUZZ_FIXED
    if (!handlers[type])
        return 2;
#endif
    return handlers[type](input + HEADER, len - HEADER - CHECKSUM);
}
