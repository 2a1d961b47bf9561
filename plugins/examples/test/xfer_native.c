/* Native test plugin "xfern" (ABI v1): XFER's transfer through the native
 * ABI, for calls whose keys live on different cores.
 *   NXFER from to amount       from -= amount, to += amount (a missing key
 *                              is 0); answers the new value of `from`
 *   NXFERFAIL from to amount   writes both keys as NXFER, then returns 7
 *                              (the call fails: nothing is written)
 * A value that is not an integer answers an error and writes nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../frys_plugin.h"

/* Parses the decimal integer of `len` bytes at `p`; 0 if it is not one. */
static int parse(const uint8_t *p, size_t len, int64_t *out) {
    char text[24];
    if (len == 0 || len >= sizeof text) return 0;
    memcpy(text, p, len);
    text[len] = 0;
    char *end;
    long long n = strtoll(text, &end, 10);
    if (*end != 0) return 0;
    *out = n;
    return 1;
}

/* The counter at key (0 if missing); 0 and an error reply if it is not one. */
static int counter(const FrysHost *h, const uint8_t *key, size_t kl, int64_t *out) {
    const uint8_t *v;
    size_t vl;
    int32_t rc = h->get(h->call, key, kl, &v, &vl);
    if (rc == FRYS_MISSING) { *out = 0; return 1; }
    if (rc != 0 || !parse(v, vl, out)) {
        static const char e[] = "ERR value is not an integer or out of range";
        h->reply_error(h->call, (const uint8_t *)e, sizeof e - 1);
        return 0;
    }
    return 1;
}

static int32_t put(const FrysHost *h, const uint8_t *key, size_t kl, int64_t n) {
    char text[24];
    int len = snprintf(text, sizeof text, "%lld", (long long)n);
    return h->set(h->call, key, kl, (const uint8_t *)text, (size_t)len, 0);
}

static int32_t call(const FrysHost *h, uint32_t command) {
    /* Copies: a lent pointer is valid only until the next host call. */
    uint8_t from[64], to[64];
    const uint8_t *p;
    size_t fl, tl, al;
    if (h->arg(h->call, 1, &p, &fl) != 0 || fl > sizeof from) return 1;
    memcpy(from, p, fl);
    if (h->arg(h->call, 2, &p, &tl) != 0 || tl > sizeof to) return 1;
    memcpy(to, p, tl);
    int64_t amount, a, b;
    if (h->arg(h->call, 3, &p, &al) != 0 || !parse(p, al, &amount)) {
        static const char e[] = "ERR amount is not an integer";
        return h->reply_error(h->call, (const uint8_t *)e, sizeof e - 1);
    }
    if (!counter(h, from, fl, &a) || !counter(h, to, tl, &b)) return 0;
    a -= amount;
    b += amount;
    int32_t rc = put(h, from, fl, a);
    if (rc == 0) rc = put(h, to, tl, b);
    if (rc != 0) return rc;
    if (command == 1) return 7;
    return h->reply_integer(h->call, a);
}

static const FrysCommand commands[] = {
    {"nxfer", 4, FRYS_FLAG_WRITE, 1, 2, 1},
    {"nxferfail", 4, FRYS_FLAG_WRITE, 1, 2, 1},
};
static const FrysPlugin plugin = {1, "xfern", 1, 2, commands, call};

const FrysPlugin *frys_plugin(void) { return &plugin; }
