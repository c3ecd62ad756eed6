/* SPDX-License-Identifier: MIT */
/*
 * fuzz_aead.c: libFuzzer target for encryption at rest's inputs. Arbitrary
 * bytes go two ways: as a data key file's text (md_aead_keys_parse), whose
 * accepted keys must number 1 to 16, each sealing and opening a value back
 * to itself; and as a stored value given to md_aead_open under a fixed key
 * (what a damaged or altered database holds), which must be refused: no
 * forged value authenticates, and nothing is read or written out of bounds.
 */
#include "util/aead.h"

#include <assert.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct md_aead_keys *fixed;
    static struct md_aead *opener;
    struct md_aead_keys *keys = NULL;
    unsigned char out[256];
    unsigned char back[256];
    size_t n = 0;
    size_t m = 0;
    struct md_err err;

    if (fixed == NULL) {
        static const char text[] =
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";

        if (md_aead_keys_parse(text, sizeof(text) - 1, &fixed, &err) != MD_OK)
            __builtin_trap();
        opener = md_aead_new(fixed);
    }
    if (md_aead_keys_parse((const char *)data, size, &keys, &err) == MD_OK) {
        struct md_aead *a = md_aead_new(keys);

        assert(md_aead_keys_count(keys) >= 1 && md_aead_keys_count(keys) <= MD_AEAD_MAX_KEYS);
        assert(md_aead_keys_has(keys, md_aead_keys_current(keys)));
        if (md_aead_seal(a, "fuzz", "value", 5, out, sizeof(out), &n, &err) != MD_OK ||
            md_aead_open(a, "fuzz", out, n, back, sizeof(back), &m, &err) != MD_OK || m != 5 ||
            memcmp(back, "value", 5) != 0)
            __builtin_trap();
        md_aead_free(a);
        md_aead_keys_free(keys);
    } else {
        assert(keys == NULL && err.msg[0] != '\0');
    }
    if (md_aead_open(opener, "fuzz", data, size, back, sizeof(back), &m, &err) == MD_OK)
        __builtin_trap();
    return 0;
}
