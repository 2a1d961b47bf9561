/* Test plugin "xfer" (WASM, ABI v1): moves an amount between two integer
 * counters, for calls whose keys live on different cores.
 *   XFER from to amount       from -= amount, to += amount (a missing key
 *                             is 0); answers the new value of `from`
 *   XFERTRAP from to amount   writes both keys as XFER, then traps
 *   XFERLEAK from to          writes both keys, then the undeclared key
 *                             `elsewhere`; answers that write's code
 * A value that is not an integer answers an error and writes nothing. */
#include "../wasm/frys_wasm.h"

#define CAP 32
static char from[CAP], to[CAP], buf[CAP];

FRYS_EXPORT("frys_init") void frys_init(void) {
    frys_plugin(FRYS_STR("xfer"), 1);
    frys_command(FRYS_STR("xfer"), 4, FRYS_FLAG_WRITE, 1, 2, 1);
    frys_command(FRYS_STR("xfertrap"), 4, FRYS_FLAG_WRITE, 1, 2, 1);
    frys_command(FRYS_STR("xferleak"), 3, FRYS_FLAG_WRITE, 1, 2, 1);
}

/* Parses the decimal integer of `len` bytes at `p`; 0 if it is not one. */
static int parse(const char *p, int64_t len, int64_t *out) {
    if (len <= 0 || len > 19) return 0;
    int64_t i = 0, sign = 1, n = 0;
    if (p[0] == '-') { sign = -1; i = 1; if (len == 1) return 0; }
    for (; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') return 0;
        n = n * 10 + (p[i] - '0');
    }
    *out = sign * n;
    return 1;
}

/* Writes `n` in decimal to `buf`; its length. */
static int32_t format(int64_t n) {
    char digits[CAP];
    int32_t d = 0, len = 0;
    uint64_t u = n < 0 ? (uint64_t)0 - (uint64_t)n : (uint64_t)n;
    do { digits[d++] = (char)('0' + u % 10); u /= 10; } while (u);
    if (n < 0) buf[len++] = '-';
    while (d) buf[len++] = digits[--d];
    return len;
}

/* The counter at key (0 if missing); 0 and an error reply if it is not one. */
static int counter(const char *key, int32_t kl, int64_t *out) {
    int64_t len = frys_get(key, kl, buf, CAP);
    if (len == FRYS_MISSING) { *out = 0; return 1; }
    if (len < 0 || len > CAP || !parse(buf, len, out)) {
        frys_reply_error(FRYS_STR("ERR value is not an integer or out of range"));
        return 0;
    }
    return 1;
}

FRYS_EXPORT("frys_call") int32_t frys_call(int32_t command) {
    int32_t fl = frys_arg_read(1, from, CAP), tl = frys_arg_read(2, to, CAP);
    if (fl > CAP || tl > CAP) {
        frys_reply_error(FRYS_STR("ERR keys longer than 32 bytes"));
        return 0;
    }
    int64_t amount = 1, a, b;
    if (command != 2) {
        int32_t al = frys_arg_read(3, buf, CAP);
        if (al > CAP || !parse(buf, al, &amount)) {
            frys_reply_error(FRYS_STR("ERR amount is not an integer"));
            return 0;
        }
    }
    if (!counter(from, fl, &a) || !counter(to, tl, &b)) return 0;
    a -= amount;
    b += amount;
    if (frys_set(from, fl, buf, format(a), 0) != 0) return 1;
    if (frys_set(to, tl, buf, format(b), 0) != 0) return 1;
    if (command == 1) __builtin_trap();
    if (command == 2) {
        frys_reply_integer(frys_set(FRYS_STR("elsewhere"), FRYS_STR("x"), 0));
        return 0;
    }
    frys_reply_integer(a);
    return 0;
}
