/*
 * codec.h - text encodings of byte strings: hex and base64 (what users paste
 * as code; base64 is also how JSON results carry output that is not UTF-8).
 */
#ifndef RUNNER_CODEC_H
#define RUNNER_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* The value of one hex digit (either case), or -1. */
int codec_hex_digit(int c);

/*
 * Decode hex text: pairs of hex digits, optionally separated by white space,
 * commas or "0x"/"\x" prefixes ("e6 10", "0xe6,0x10", "e610"). On success
 * *out is malloc'd. Returns 0, -EINVAL (message in err) or -ENOMEM.
 */
int codec_hex_decode(const char *text, uint8_t **out, size_t *len, char *err,
                     size_t errlen);

/*
 * Decode standard base64 (RFC 4648 alphabet, '=' padding optional, white
 * space ignored). On success *out is malloc'd (NULL when empty). Returns 0,
 * -EINVAL (message in err) or -ENOMEM.
 */
int codec_b64_decode(const char *text, uint8_t **out, size_t *len, char *err,
                     size_t errlen);

/* Standard base64 with padding; returns a malloc'd string or NULL. */
char *codec_b64_encode(const uint8_t *p, size_t len);

#endif
