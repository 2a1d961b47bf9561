/* Test plugin "ops3": every ABI v3 function behind a command shaped like
 * the server's own (same arguments, same replies, same error texts), so
 * a test can run the built-in command and the plugin's on twin keys and
 * compare. Built twice: for wasm32 (commands `p.*`) and, with
 * -DFRYS_NATIVE, as a native library (commands `n.*`, through a shim
 * that maps the WASM import names onto the FrysHost table).
 *   P.TYPE key                 TYPE
 *   P.EXISTS key               EXISTS (one key)
 *   P.PEXPIRE key ms [NX|XX|GT|LT]
 *   P.PERSIST key              PERSIST
 *   P.PTTL key                 PTTL (exists + ttl_ms)
 *   P.LSET key index value     LSET
 *   P.LINSERT key BEFORE|AFTER pivot value
 *   P.LREM key count value     LREM
 *   P.LTRIM key start stop     LTRIM
 *   P.LRANGE key start stop    LRANGE, paged through a 24-byte buffer
 *   P.ZRANGE key start stop    ZRANGE .. WITHSCORES (integer scores)
 *   P.ZRANGEBYSCORE key min max  .. WITHSCORES (integers, (, -inf, +inf)
 *   P.HINCRBY key field by     HINCRBY
 *   P.ZINCRBY key by member    ZINCRBY (integer scores)
 *   P.EDITFAIL key             LSET 0, LREM, LTRIM, PEXPIRE on a list,
 *                              then an error reply: nothing is written
 *   P.SNEAK key other          LSET on `other`, which it did not declare
 *   P.XEDIT k1 k2 ok|fail|ttl  on each list: LSET 0 "e", LINSERT AFTER "e"
 *                              "i", LTRIM 0 2, PEXPIRE 100000, then +OK (or,
 *                              with `fail`, an error: nothing written; with
 *                              `ttl`, the PEXPIRE only); for keys on two
 *                              cores (the cross-core path)
 *
 * Scores are integers in these tests, so no float formatting is needed. */
#ifdef FRYS_NATIVE
#include <string.h>

#include "../../frys_plugin.h"
#define PFX "n."
#define NAME "ops3n"
static _Thread_local const FrysHost *H;
static int32_t frys_arg_count(void) { return H->arg_count(H->call); }
static int32_t frys_arg_len(int32_t i) {
    const uint8_t *p;
    size_t l;
    return H->arg(H->call, i, &p, &l) == 0 ? (int32_t)l : -1;
}
static int32_t frys_arg_read(int32_t i, void *dst, int32_t cap) {
    const uint8_t *p;
    size_t l;
    if (H->arg(H->call, i, &p, &l) != 0) return -1;
    memcpy(dst, p, l < (size_t)cap ? l : (size_t)cap);
    return (int32_t)l;
}
#define K const void *k, int32_t kl
#define KA H->call, k, (size_t)kl
static int32_t frys_reply_simple(const char *s, int32_t l) { return H->reply_simple(H->call, (const uint8_t *)s, l); }
static int32_t frys_reply_error(const char *s, int32_t l) { return H->reply_error(H->call, (const uint8_t *)s, l); }
static int32_t frys_reply_bulk(const void *s, int32_t l) { return H->reply_bulk(H->call, s, l); }
static int32_t frys_reply_integer(int64_t n) { return H->reply_integer(H->call, n); }
static int32_t frys_reply_array(int32_t n) { return H->reply_array(H->call, n); }
static int64_t frys_llen(K) { return H->llen(KA); }
static int64_t frys_zcard(K) { return H->zcard(KA); }
static int64_t frys_ttl_ms(K) { return H->ttl_ms(KA); }
static int32_t frys_key_type(K) { return H->key_type(KA); }
static int32_t frys_exists(K) { return H->exists(KA); }
static int32_t frys_persist(K) { return H->persist(KA); }
static int32_t frys_pexpire(K, int64_t ms, int32_t cond) { return H->pexpire(KA, ms, cond); }
static int32_t frys_lset(K, int64_t i, const void *v, int32_t vl) { return H->lset(KA, i, v, vl); }
static int64_t frys_linsert(K, int32_t after, const void *p, int32_t pl, const void *v, int32_t vl) {
    return H->linsert(KA, after, p, pl, v, vl);
}
static int64_t frys_lrem(K, int64_t n, const void *v, int32_t vl) { return H->lrem(KA, n, v, vl); }
static int32_t frys_ltrim(K, int64_t a, int64_t b) { return H->ltrim(KA, a, b); }
static int64_t frys_lrange(K, int64_t a, int64_t b, void *d, int32_t c) { return H->lrange(KA, a, b, d, c); }
static int64_t frys_zrange(K, int64_t a, int64_t b, void *d, int32_t c) { return H->zrange(KA, a, b, d, c); }
static int64_t frys_zrangebyscore(K, double lo, double hi, int32_t f, int64_t o, void *d, int32_t c) {
    return H->zrangebyscore(KA, lo, hi, f, o, d, c);
}
static int32_t frys_hincrby(K, const void *f, int32_t fl, int64_t by, int64_t *out) {
    return H->hincrby(KA, f, fl, by, out);
}
static int32_t frys_zincrby(K, double by, const void *m, int32_t ml, double *out) {
    return H->zincrby(KA, by, m, ml, out);
}
static int32_t str_len(const char *s) { return (int32_t)strlen(s); }
#define FRYS_STR(s) (s), str_len(s)
#else
#include "../wasm/frys_wasm.h"
#define PFX "p."
#define NAME "ops3"
#endif

#define CAP 4096
/* One call's state: its arguments, the range being replied and the page
 * buffers. It lives on the stack of `run` (never in a static: a native
 * plugin's `call` runs on several cores at once, frys_plugin.h). */
struct st {
    char key[CAP], a1[CAP], a2[CAP], a3[CAP], big[CAP], small[24];
    int32_t kl, l1, l2, l3;
    /* The range: absolute start and stop (list / rank), or a score
     * interval. */
    int64_t r_start, r_stop;
    double r_min, r_max;
    int32_t r_flags;
};

static int eq(const char *a, int32_t al, const char *lit) {
    int32_t i = 0;
    for (; lit[i]; i++) {
        if (i >= al) return 0;
        char c = a[i];
        if (c >= 'a' && c <= 'z') c = (char)(c - 32);
        if (c != lit[i]) return 0;
    }
    return i == al;
}

/* Redis' string2ll shape: optional '-', digits; 0 if not one. */
static int parse_i64(const char *p, int32_t len, int64_t *out) {
    int neg = len > 0 && p[0] == '-';
    if (len - neg <= 0 || len - neg > 19) return 0;
    uint64_t v = 0;
    for (int32_t i = neg; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') return 0;
        v = v * 10 + (uint64_t)(p[i] - '0'); /* 19 digits fit in u64 */
    }
    if (v > (uint64_t)INT64_MAX + (uint64_t)neg) return 0;
    *out = neg ? (int64_t)((uint64_t)0 - v) : (int64_t)v;
    return 1;
}

static int32_t format_i64(int64_t v, char *dst) {
    char tmp[24];
    int32_t n = 0, neg = v < 0;
    uint64_t u = neg ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do { tmp[n++] = (char)('0' + u % 10); u /= 10; } while (u > 0);
    int32_t at = 0;
    if (neg) dst[at++] = '-';
    for (int32_t i = 0; i < n; i++) dst[at++] = tmp[n - 1 - i];
    return at;
}

/* Replies the error the server's command gives for host code `code`; 1 if
 * it was one. */
static int failed(int64_t code) {
    const char *t = 0;
    switch (code) {
    case FRYS_WRONG_TYPE: t = "WRONGTYPE Operation against a key holding the wrong kind of value"; break;
    case FRYS_OUT_OF_RANGE: t = "ERR index out of range"; break;
    case FRYS_NOT_AN_INTEGER: t = "ERR hash value is not an integer"; break;
    case FRYS_OVERFLOW: t = "ERR increment or decrement would overflow"; break;
    case FRYS_NOT_A_NUMBER: t = "ERR resulting score is not a number (NaN)"; break;
    default:
        if (code < -1) t = "ERR host refused the access";
    }
    if (!t) return 0;
    frys_reply_error(FRYS_STR(t));
    return 1;
}

static void reply_score(double s) {
    char num[24];
    if (s == __builtin_inf() || s == -__builtin_inf()) {
        frys_reply_bulk(s > 0 ? "inf" : "-inf", s > 0 ? 3 : 4);
        return;
    }
    int64_t i = (int64_t)s;
    if ((double)i != s) {
        frys_reply_error(FRYS_STR("ERR test plugin: non-integer score"));
        return;
    }
    frys_reply_bulk(num, format_i64(i, num));
}

/* One page of a range read into a 24-byte buffer, or (when an element
 * needs more) the big one; records in `*buf`, or a negative code. */
typedef int64_t (*page_fn)(struct st *st, int64_t from, void *dst, int32_t cap);
static int64_t page(struct st *st, page_fn f, int64_t from, char **buf) {
    int64_t n = f(st, from, st->small, sizeof st->small);
    *buf = st->small;
    if (n == FRYS_TOO_LARGE) {
        n = f(st, from, st->big, CAP);
        *buf = st->big;
    }
    return n;
}

/* Replies every record of `f` from 0 on (with scores if `scores`), paged:
 * a first pass counts them, a second replies them. */
static int32_t reply_pages(struct st *st, page_fn f, int scores) {
    int64_t total = 0, n;
    char *buf;
    while ((n = page(st, f, total, &buf)) > 0) total += n;
    if (failed(n)) return 0;
    frys_reply_array((int32_t)(scores ? 2 * total : total));
    for (int64_t done = 0; done < total;) {
        n = page(st, f, done, &buf);
        if (n <= 0) return 1;
        int32_t at = 0;
        for (int64_t r = 0; r < n; r++) {
            uint32_t len;
            __builtin_memcpy(&len, buf + at, 4);
            frys_reply_bulk(buf + at + 4, (int32_t)len);
            at += 4 + (int32_t)len;
            if (scores) {
                double s;
                __builtin_memcpy(&s, buf + at, 8);
                reply_score(s);
                at += 8;
            }
        }
        done += n;
    }
    return 0;
}

static int64_t list_page(struct st *st, int64_t from, void *dst, int32_t cap) {
    if (st->r_start + from > st->r_stop) return 0;
    return frys_lrange(st->key, st->kl, st->r_start + from, st->r_stop, dst, cap);
}
static int64_t rank_page(struct st *st, int64_t from, void *dst, int32_t cap) {
    if (st->r_start + from > st->r_stop) return 0;
    return frys_zrange(st->key, st->kl, st->r_start + from, st->r_stop, dst, cap);
}
static int64_t score_page(struct st *st, int64_t from, void *dst, int32_t cap) {
    return frys_zrangebyscore(st->key, st->kl, st->r_min, st->r_max, st->r_flags, from, dst, cap);
}

/* Redis' range rules, made absolute so pages can advance; 0 if empty. */
static int absolute(struct st *st, int64_t start, int64_t stop, int64_t len) {
    if (start < 0) start = start + len < 0 ? 0 : start + len;
    if (stop < 0) stop += len;
    if (stop >= len) stop = len - 1;
    st->r_start = start;
    st->r_stop = stop;
    return start <= stop && start < len;
}

/* A ZRANGEBYSCORE bound: [(]integer, -inf, +inf. */
static int bound(const char *p, int32_t len, double *out, int32_t *excl, int32_t flag) {
    if (len > 0 && p[0] == '(') {
        *excl |= flag;
        p++;
        len--;
    }
    if (eq(p, len, "-INF")) *out = -__builtin_inf();
    else if (eq(p, len, "+INF") || eq(p, len, "INF")) *out = __builtin_inf();
    else {
        int64_t v;
        if (!parse_i64(p, len, &v)) return 0;
        *out = (double)v;
    }
    return 1;
}

#define CMD(n) PFX n
#ifdef FRYS_NATIVE
static const FrysCommand commands[] = {
    {CMD("type"), 2, FRYS_FLAG_READONLY, 1, 1, 1},
    {CMD("exists"), 2, FRYS_FLAG_READONLY, 1, 1, 1},
    {CMD("pexpire"), -3, FRYS_FLAG_WRITE, 1, 1, 1},
    {CMD("persist"), 2, FRYS_FLAG_WRITE, 1, 1, 1},
    {CMD("pttl"), 2, FRYS_FLAG_READONLY, 1, 1, 1},
    {CMD("lset"), 4, FRYS_FLAG_WRITE, 1, 1, 1},
    {CMD("linsert"), 5, FRYS_FLAG_WRITE, 1, 1, 1},
    {CMD("lrem"), 4, FRYS_FLAG_WRITE, 1, 1, 1},
    {CMD("ltrim"), 4, FRYS_FLAG_WRITE, 1, 1, 1},
    {CMD("lrange"), 4, FRYS_FLAG_READONLY, 1, 1, 1},
    {CMD("zrange"), 4, FRYS_FLAG_READONLY, 1, 1, 1},
    {CMD("zrangebyscore"), 4, FRYS_FLAG_READONLY, 1, 1, 1},
    {CMD("hincrby"), 4, FRYS_FLAG_WRITE, 1, 1, 1},
    {CMD("zincrby"), 4, FRYS_FLAG_WRITE, 1, 1, 1},
    {CMD("editfail"), 2, FRYS_FLAG_WRITE, 1, 1, 1},
    {CMD("sneak"), 3, FRYS_FLAG_WRITE, 1, 1, 1},
    {CMD("xedit"), 4, FRYS_FLAG_WRITE, 1, 2, 1},
};
static int32_t run(int32_t command);
static int32_t call(const FrysHost *host, uint32_t command) {
    H = host;
    int32_t rc = run((int32_t)command);
    H = 0;
    return rc;
}
static const FrysPlugin plugin = {3, NAME, 1, sizeof commands / sizeof commands[0], commands, call};
const FrysPlugin *frys_plugin(void) { return &plugin; }
#else
FRYS_EXPORT("frys_init") void frys_init(void) {
    int32_t w = FRYS_FLAG_WRITE, r = FRYS_FLAG_READONLY;
    frys_plugin(FRYS_STR(NAME), 1);
    frys_command(FRYS_STR(CMD("type")), 2, r, 1, 1, 1);
    frys_command(FRYS_STR(CMD("exists")), 2, r, 1, 1, 1);
    frys_command(FRYS_STR(CMD("pexpire")), -3, w, 1, 1, 1);
    frys_command(FRYS_STR(CMD("persist")), 2, w, 1, 1, 1);
    frys_command(FRYS_STR(CMD("pttl")), 2, r, 1, 1, 1);
    frys_command(FRYS_STR(CMD("lset")), 4, w, 1, 1, 1);
    frys_command(FRYS_STR(CMD("linsert")), 5, w, 1, 1, 1);
    frys_command(FRYS_STR(CMD("lrem")), 4, w, 1, 1, 1);
    frys_command(FRYS_STR(CMD("ltrim")), 4, w, 1, 1, 1);
    frys_command(FRYS_STR(CMD("lrange")), 4, r, 1, 1, 1);
    frys_command(FRYS_STR(CMD("zrange")), 4, r, 1, 1, 1);
    frys_command(FRYS_STR(CMD("zrangebyscore")), 4, r, 1, 1, 1);
    frys_command(FRYS_STR(CMD("hincrby")), 4, w, 1, 1, 1);
    frys_command(FRYS_STR(CMD("zincrby")), 4, w, 1, 1, 1);
    frys_command(FRYS_STR(CMD("editfail")), 2, w, 1, 1, 1);
    frys_command(FRYS_STR(CMD("sneak")), 3, w, 1, 1, 1);
    frys_command(FRYS_STR(CMD("xedit")), 4, w, 1, 2, 1);
}
static int32_t run(int32_t command);
FRYS_EXPORT("frys_call") int32_t frys_call(int32_t command) { return run(command); }
#endif

static int32_t ok(void) {
    frys_reply_simple(FRYS_STR("OK"));
    return 0;
}

static int32_t not_integer(void) {
    frys_reply_error(FRYS_STR("ERR value is not an integer or out of range"));
    return 0;
}

static int32_t run(int32_t command) {
    struct st call_state;
    struct st *st = &call_state;
    int32_t argc = frys_arg_count();
    if (frys_arg_len(1) > CAP || frys_arg_len(2) > CAP || frys_arg_len(3) > CAP ||
        frys_arg_len(4) > CAP) {
        frys_reply_error(FRYS_STR("ERR arguments longer than 4 KiB"));
        return 0;
    }
    st->kl = frys_arg_read(1, st->key, CAP);
    st->l1 = frys_arg_read(2, st->a1, CAP);
    st->l2 = frys_arg_read(3, st->a2, CAP);
    st->l3 = frys_arg_read(4, st->a3, CAP);
    int64_t n1 = 0, n2 = 0;
    switch (command) {
    case 0: { /* TYPE */
        static const char *names[] = {"none", "string", "hash", "set", "zset", "list"};
        int32_t t = frys_key_type(st->key, st->kl);
        if (failed(t)) return 0;
        if (t < 0 || t > 5) return 1;
        frys_reply_simple(FRYS_STR(names[t]));
        return 0;
    }
    case 1: { /* EXISTS */
        int32_t e = frys_exists(st->key, st->kl);
        if (failed(e)) return 0;
        frys_reply_integer(e);
        return 0;
    }
    case 2: { /* PEXPIRE */
        int32_t cond = FRYS_EXPIRE_ALWAYS;
        if (!parse_i64(st->a1, st->l1, &n1)) return not_integer();
        if (argc > 4) {
            frys_reply_error(FRYS_STR("ERR syntax error"));
            return 0;
        }
        if (argc == 4) {
            if (eq(st->a2, st->l2, "NX")) cond = FRYS_EXPIRE_NX;
            else if (eq(st->a2, st->l2, "XX")) cond = FRYS_EXPIRE_XX;
            else if (eq(st->a2, st->l2, "GT")) cond = FRYS_EXPIRE_GT;
            else if (eq(st->a2, st->l2, "LT")) cond = FRYS_EXPIRE_LT;
            else {
                frys_reply_error(FRYS_STR("ERR Unsupported option ")); /* not compared */
                return 0;
            }
        }
        int32_t r = frys_pexpire(st->key, st->kl, n1, cond);
        if (r == FRYS_OUT_OF_RANGE) {
            frys_reply_error(FRYS_STR("ERR invalid expire time in 'pexpire' command"));
            return 0;
        }
        if (failed(r)) return 0;
        frys_reply_integer(r);
        return 0;
    }
    case 3: { /* PERSIST */
        int32_t r = frys_persist(st->key, st->kl);
        if (failed(r)) return 0;
        frys_reply_integer(r);
        return 0;
    }
    case 4: { /* PTTL */
        int32_t e = frys_exists(st->key, st->kl);
        if (failed(e)) return 0;
        if (!e) {
            frys_reply_integer(-2);
            return 0;
        }
        int64_t t = frys_ttl_ms(st->key, st->kl);
        if (failed(t)) return 0;
        frys_reply_integer(t == FRYS_MISSING ? -1 : t);
        return 0;
    }
    case 5: { /* LSET */
        if (!parse_i64(st->a1, st->l1, &n1)) return not_integer();
        int32_t r = frys_lset(st->key, st->kl, n1, st->a2, st->l2);
        if (r == FRYS_MISSING) {
            frys_reply_error(FRYS_STR("ERR no such key"));
            return 0;
        }
        if (failed(r)) return 0;
        return ok();
    }
    case 6: { /* LINSERT */
        int32_t after;
        if (eq(st->a1, st->l1, "AFTER")) after = 1;
        else if (eq(st->a1, st->l1, "BEFORE")) after = 0;
        else {
            frys_reply_error(FRYS_STR("ERR syntax error"));
            return 0;
        }
        int64_t r = frys_linsert(st->key, st->kl, after, st->a2, st->l2, st->a3, st->l3);
        if (r < -1 && failed(r)) return 0;
        frys_reply_integer(r);
        return 0;
    }
    case 7: { /* LREM */
        if (!parse_i64(st->a1, st->l1, &n1)) return not_integer();
        int64_t r = frys_lrem(st->key, st->kl, n1, st->a2, st->l2);
        if (failed(r)) return 0;
        frys_reply_integer(r);
        return 0;
    }
    case 8: /* LTRIM */
        if (!parse_i64(st->a1, st->l1, &n1) || !parse_i64(st->a2, st->l2, &n2)) return not_integer();
        if (failed(frys_ltrim(st->key, st->kl, n1, n2))) return 0;
        return ok();
    case 9: /* LRANGE */
    case 10: { /* ZRANGE */
        if (!parse_i64(st->a1, st->l1, &n1) || !parse_i64(st->a2, st->l2, &n2)) return not_integer();
        int64_t len = command == 9 ? frys_llen(st->key, st->kl) : frys_zcard(st->key, st->kl);
        if (failed(len)) return 0;
        if (!absolute(st, n1, n2, len)) {
            frys_reply_array(0);
            return 0;
        }
        return reply_pages(st, command == 9 ? list_page : rank_page, command == 10);
    }
    case 11: /* ZRANGEBYSCORE */
        st->r_flags = 0;
        if (!bound(st->a1, st->l1, &st->r_min, &st->r_flags, FRYS_MIN_EXCLUSIVE) ||
            !bound(st->a2, st->l2, &st->r_max, &st->r_flags, FRYS_MAX_EXCLUSIVE)) {
            frys_reply_error(FRYS_STR("ERR min or max is not a float"));
            return 0;
        }
        return reply_pages(st, score_page, 1);
    case 12: { /* HINCRBY */
        int64_t out = 0;
        if (!parse_i64(st->a2, st->l2, &n1)) return not_integer();
        if (failed(frys_hincrby(st->key, st->kl, st->a1, st->l1, n1, &out))) return 0;
        frys_reply_integer(out);
        return 0;
    }
    case 13: { /* ZINCRBY */
        double out = 0;
        if (!parse_i64(st->a1, st->l1, &n1)) {
            frys_reply_error(FRYS_STR("ERR value is not a valid float"));
            return 0;
        }
        if (failed(frys_zincrby(st->key, st->kl, (double)n1, st->a2, st->l2, &out))) return 0;
        reply_score(out);
        return 0;
    }
    case 14: /* EDITFAIL */
        if (failed(frys_lset(st->key, st->kl, 0, FRYS_STR("changed")))) return 0;
        frys_lrem(st->key, st->kl, 0, FRYS_STR("x"));
        frys_ltrim(st->key, st->kl, 0, 0);
        frys_pexpire(st->key, st->kl, 1, FRYS_EXPIRE_ALWAYS);
        frys_reply_error(FRYS_STR("ERR editfail: failing after its writes"));
        return 0;
    case 15: /* SNEAK */
        frys_lset(st->key, st->kl, 0, FRYS_STR("mine"));
        if (frys_lset(st->a1, st->l1, 0, FRYS_STR("theirs")) == FRYS_UNDECLARED) {
            frys_reply_simple(FRYS_STR("UNDECLARED"));
            return 0;
        }
        return ok();
    case 16: /* XEDIT */
        for (int i = 0; i < 2; i++) {
            const char *k = i == 0 ? st->key : st->a1;
            int32_t l = i == 0 ? st->kl : st->l1;
            if (eq(st->a2, st->l2, "TTL")) { /* the expiry only */
                if (failed(frys_pexpire(k, l, 100000, FRYS_EXPIRE_ALWAYS))) return 0;
                continue;
            }
            if (failed(frys_lset(k, l, 0, FRYS_STR("e"))) ||
                failed(frys_linsert(k, l, 1, FRYS_STR("e"), FRYS_STR("i"))) ||
                failed(frys_ltrim(k, l, 0, 2)) ||
                failed(frys_pexpire(k, l, 100000, FRYS_EXPIRE_ALWAYS)))
                return 0;
        }
        if (eq(st->a2, st->l2, "FAIL")) {
            frys_reply_error(FRYS_STR("ERR xedit: failing after its writes"));
            return 0;
        }
        return ok();
    }
    return 1;
}
