/*
 * codec.c - hex decoding, base64 decoding and encoding (see codec.h).
 */
#include "codec.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int codec_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int is_sep(int c)
{
    return isspace(c) || c == ',';
}

int codec_hex_decode(const char *text, uint8_t **out, size_t *len, char *err,
                     size_t errlen)
{
    size_t cap = strlen(text) / 2 + 1, n = 0;
    uint8_t *buf = malloc(cap);
    const char *p = text;

    if (!buf)
        return -ENOMEM;
    while (*p) {
        if (is_sep((unsigned char)*p)) {
            p++;
            continue;
        }
        if ((p[0] == '0' || p[0] == '\\') && (p[1] == 'x' || p[1] == 'X'))
            p += 2;
        int hi = codec_hex_digit((unsigned char)p[0]);
        int lo = hi < 0 ? -1 : codec_hex_digit((unsigned char)p[1]);
        if (hi < 0 || lo < 0) {
            const char *bad = hi < 0 ? p : p + 1;
            if (*bad == '\0' || is_sep((unsigned char)*bad))
                snprintf(err, errlen,
                         "bad hex: a lone digit at offset %zu; write whole "
                         "bytes like 'e6 10'",
                         (size_t)(p - text));
            else
                snprintf(err, errlen,
                         "bad hex: '%c' at offset %zu is not a hex digit", *bad,
                         (size_t)(bad - text));
            free(buf);
            return -EINVAL;
        }
        buf[n++] = (uint8_t)(hi << 4 | lo);
        p += 2;
    }
    *out = buf;
    *len = n;
    return 0;
}

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int codec_b64_decode(const char *text, uint8_t **out, size_t *len, char *err,
                     size_t errlen)
{
    size_t cap = strlen(text) / 4 * 3 + 3, n = 0, digits = 0, pad = 0;
    uint8_t *buf = malloc(cap);
    uint32_t acc = 0;

    *out = NULL;
    *len = 0;
    if (!buf)
        return -ENOMEM;
    for (const char *p = text; *p; p++) {
        int v = b64val((unsigned char)*p);
        if (isspace((unsigned char)*p))
            continue;
        if (*p == '=') {
            pad++;
            continue;
        }
        if (v < 0 || pad) {
            if (v < 0)
                snprintf(err, errlen,
                         "bad base64: '%c' at offset %zu is not a base64 "
                         "character (A-Z a-z 0-9 + /)",
                         *p, (size_t)(p - text));
            else
                snprintf(err, errlen,
                         "bad base64: data after '=' padding at offset %zu",
                         (size_t)(p - text));
            free(buf);
            return -EINVAL;
        }
        acc = acc << 6 | (uint32_t)v;
        if (++digits % 4 == 0) {
            buf[n++] = (uint8_t)(acc >> 16);
            buf[n++] = (uint8_t)(acc >> 8);
            buf[n++] = (uint8_t)acc;
            acc = 0;
        }
    }
    switch (digits % 4) {
    case 1:
        snprintf(err, errlen, "%s",
                 "bad base64: the text ends in a lone character; check that "
                 "it was copied whole");
        free(buf);
        return -EINVAL;
    case 2:
        buf[n++] = (uint8_t)(acc >> 4);
        break;
    case 3:
        buf[n++] = (uint8_t)(acc >> 10);
        buf[n++] = (uint8_t)(acc >> 2);
        break;
    }
    if (pad && (digits % 4 == 0 || pad != 4 - digits % 4)) {
        snprintf(err, errlen,
                 "bad base64: %zu '=' after %zu characters; "
                 "padding fills the last group of 4 only",
                 pad, digits);
        free(buf);
        return -EINVAL;
    }
    if (n == 0) {
        free(buf);
        return 0;
    }
    *out = buf;
    *len = n;
    return 0;
}

char *codec_b64_encode(const uint8_t *p, size_t len)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t olen = (len + 2) / 3 * 4;
    char *o = malloc(olen + 1), *q = o;

    if (!o)
        return NULL;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < len)
            v |= p[i + 2];
        *q++ = tab[v >> 18 & 63];
        *q++ = tab[v >> 12 & 63];
        *q++ = i + 1 < len ? tab[v >> 6 & 63] : '=';
        *q++ = i + 2 < len ? tab[v & 63] : '=';
    }
    *q = '\0';
    return o;
}
