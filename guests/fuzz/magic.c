/*
 * magic: a 4-byte magic value ("TCNK") at the start of the input guards a
 * null dereference -> fault, #PF (cr2 0) at the store. Found by the
 * compare log in seconds; blind fuzzing with the same budget does not find
 * it. Exit code 1 when the input starts with the magic (fixed build), else
 * 0.
 */
#include "tincan_guest.h"

#include "magic.h"

int main(const unsigned char *input, unsigned long len)
{
    return magic_parse(input, len);
}
