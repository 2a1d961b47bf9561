/* Test plugin "coll": one or more commands per collection family, over
 * the ABI v2 collection imports.
 *   HINCRFIELD key field     hash: field += 1 (missing = 0); the new value
 *   HFIELDS key              hash: every field, in byte order
 *   STOGGLE key member       set: adds the member, or removes it; SCARD after
 *   SMEMBERS2 key            set: every member, in byte order
 *   ZBUMP key member delta   zset: score += delta (integer); the new score
 *   ZFIRST key               zset: the member of rank 0 (or null)
 *   QPUSH key value          list: RPUSH; the length
 *   QTAKE key                list: LPOP (or null)
 *   LAT key index            list: LINDEX (negative from the end, or null)
 *   CRASHCOLL key            writes every family on key's {tag}, then traps
 *   DRAIN key                list: pops everything; how many
 *   MOVEQ src dst            lists: LMOVE src dst LEFT RIGHT; the element
 *                            (or null) */
#include "../wasm/frys_wasm.h"

#define CAP 4096
static char key[CAP], a1[CAP], a2[CAP], buf[CAP];

static void wrong_type(void) {
    frys_reply_error(FRYS_STR("WRONGTYPE Operation against a key holding the wrong kind of value"));
}

/* Replies an error for a negative host code; 1 if it did. */
static int failed(int64_t code) {
    if (code == FRYS_WRONG_TYPE) {
        wrong_type();
        return 1;
    }
    if (code < 0 && code != FRYS_MISSING) {
        frys_reply_error(FRYS_STR("ERR host refused the access"));
        return 1;
    }
    return 0;
}

static int64_t parse_i64(const char *p, int32_t len) {
    if (len > 0 && p[0] == '-') return -frys_parse_u63(p + 1, len - 1);
    return frys_parse_u63(p, len);
}

static int32_t format_i64(int64_t v, char *dst) {
    if (v < 0) {
        dst[0] = '-';
        return 1 + frys_format_u63(-v, dst + 1);
    }
    return frys_format_u63(v, dst);
}

FRYS_EXPORT("frys_init") void frys_init(void) {
    int32_t w = FRYS_FLAG_WRITE | FRYS_FLAG_DENYOOM, r = FRYS_FLAG_READONLY;
    frys_plugin(FRYS_STR("coll"), 1);
    frys_command(FRYS_STR("hincrfield"), 3, w, 1, 1, 1);
    frys_command(FRYS_STR("hfields"), 2, r, 1, 1, 1);
    frys_command(FRYS_STR("stoggle"), 3, w, 1, 1, 1);
    frys_command(FRYS_STR("smembers2"), 2, r, 1, 1, 1);
    frys_command(FRYS_STR("zbump"), 4, w, 1, 1, 1);
    frys_command(FRYS_STR("zfirst"), 2, r, 1, 1, 1);
    frys_command(FRYS_STR("qpush"), 3, w, 1, 1, 1);
    frys_command(FRYS_STR("qtake"), 2, w, 1, 1, 1);
    frys_command(FRYS_STR("lat"), 3, r, 1, 1, 1);
    frys_command(FRYS_STR("crashcoll"), 5, w, 1, 4, 1);
    frys_command(FRYS_STR("drain"), 2, w, 1, 1, 1);
    frys_command(FRYS_STR("moveq"), 3, w, 1, 2, 1);
}

/* Replies every member `at` gives for key, in index order. */
static int32_t reply_all(int64_t n, int64_t (*at)(const void *, int32_t, int64_t, void *, int32_t),
                         int32_t kl) {
    if (failed(n)) return 0;
    frys_reply_array((int32_t)n);
    for (int64_t i = 0; i < n; i++) {
        int64_t l = at(key, kl, i, buf, CAP);
        if (l < 0 || l > CAP) return 1;
        frys_reply_bulk(buf, (int32_t)l);
    }
    return 0;
}

FRYS_EXPORT("frys_call") int32_t frys_call(int32_t command) {
    int32_t kl = frys_arg_read(1, key, CAP);
    int32_t l1 = frys_arg_len(2) > CAP ? -1 : frys_arg_read(2, a1, CAP);
    int32_t l2 = frys_arg_len(3) > CAP ? -1 : frys_arg_read(3, a2, CAP);
    if (kl > CAP || (frys_arg_count() > 2 && l1 < 0) || (frys_arg_count() > 3 && l2 < 0)) {
        frys_reply_error(FRYS_STR("ERR arguments longer than 4 KiB"));
        return 0;
    }
    switch (command) {
    case 0: { /* HINCRFIELD */
        int64_t l = frys_hget(key, kl, a1, l1, buf, CAP);
        if (failed(l)) return 0;
        int64_t v = l == FRYS_MISSING ? 0 : parse_i64(buf, (int32_t)l);
        int32_t n = format_i64(v + 1, buf);
        if (failed(frys_hset(key, kl, a1, l1, buf, n))) return 0;
        frys_reply_integer(v + 1);
        return 0;
    }
    case 1: /* HFIELDS */
        return reply_all(frys_hlen(key, kl), frys_hfield_at, kl);
    case 2: { /* STOGGLE */
        int32_t is = frys_sismember(key, kl, a1, l1);
        if (failed(is)) return 0;
        if (is) frys_srem(key, kl, a1, l1);
        else frys_sadd(key, kl, a1, l1);
        frys_reply_integer(frys_scard(key, kl));
        return 0;
    }
    case 3: /* SMEMBERS2 */
        return reply_all(frys_scard(key, kl), frys_smember_at, kl);
    case 4: { /* ZBUMP */
        double score = 0;
        int32_t rc = frys_zscore(key, kl, a1, l1, &score);
        if (failed(rc)) return 0;
        score += (double)parse_i64(a2, l2);
        if (failed(frys_zadd(key, kl, score, a1, l1))) return 0;
        frys_reply_integer((int64_t)score);
        return 0;
    }
    case 5: { /* ZFIRST */
        int64_t l = frys_zrange_at(key, kl, 0, buf, CAP);
        if (failed(l)) return 0;
        if (l == FRYS_MISSING) frys_reply_null();
        else frys_reply_bulk(buf, (int32_t)l);
        return 0;
    }
    case 6: { /* QPUSH */
        int64_t n = frys_rpush(key, kl, a1, l1);
        if (failed(n)) return 0;
        frys_reply_integer(n);
        return 0;
    }
    case 7: { /* QTAKE */
        int64_t l = frys_lpop(key, kl, buf, CAP);
        if (failed(l)) return 0;
        if (l == FRYS_MISSING) frys_reply_null();
        else frys_reply_bulk(buf, (int32_t)l);
        return 0;
    }
    case 8: { /* LAT */
        int64_t l = frys_lindex(key, kl, parse_i64(a1, l1), buf, CAP);
        if (failed(l)) return 0;
        if (l == FRYS_MISSING) frys_reply_null();
        else frys_reply_bulk(buf, (int32_t)l);
        return 0;
    }
    case 9: { /* CRASHCOLL hash set zset list */
        static char k[4][CAP];
        int32_t n[4];
        for (int32_t i = 0; i < 4; i++) n[i] = frys_arg_read(1 + i, k[i], CAP);
        frys_hset(k[0], n[0], "f", 1, "changed", 7);
        frys_hdel(k[0], n[0], "g", 1);
        frys_sadd(k[1], n[1], "new", 3);
        frys_srem(k[1], n[1], "a", 1);
        frys_zadd(k[2], n[2], 99.0, "a", 1);
        frys_zrem(k[2], n[2], "b", 1);
        frys_lpush(k[3], n[3], "new", 3);
        frys_rpop(k[3], n[3], buf, CAP);
        frys_reply_integer(1);
        __builtin_trap();
    }
    case 10: { /* DRAIN */
        int64_t n = 0;
        int64_t l;
        while ((l = frys_rpop(key, kl, buf, CAP)) >= 0 && l <= CAP) n++;
        frys_reply_integer(n);
        return 0;
    }
    case 11: { /* MOVEQ src dst */
        int64_t l = frys_lpop(key, kl, buf, CAP);
        if (failed(l)) return 0;
        if (l == FRYS_MISSING) {
            frys_reply_null();
            return 0;
        }
        if (l > CAP) {
            frys_reply_error(FRYS_STR("ERR element longer than 4 KiB"));
            return 0;
        }
        if (failed(frys_rpush(a1, l1, buf, (int32_t)l))) return 0;
        frys_reply_bulk(buf, (int32_t)l);
        return 0;
    }
    }
    return 1;
}
