/* Frys WASM plugin ABI v3 imports (define FRYS_ABI_VERSION 1 or 2 before
 * including it to declare an older version), for C compiled with
 * clang --target=wasm32 (see plugins/ABI.md). */
#ifndef FRYS_WASM_H
#define FRYS_WASM_H
#include <stdint.h>

#define FRYS_IMPORT(name) __attribute__((import_module("frys"), import_name(name)))
#define FRYS_EXPORT(name) __attribute__((export_name(name)))

#define FRYS_FLAG_WRITE 1
#define FRYS_FLAG_READONLY 2
#define FRYS_FLAG_DENYOOM 4
#define FRYS_FLAG_FAST 8

#define FRYS_MISSING (-1)
#define FRYS_WRONG_TYPE (-2)
#define FRYS_UNDECLARED (-3)
#define FRYS_NOT_A_NUMBER (-4)
#define FRYS_BAD_REPLY (-5)
#define FRYS_TOO_LARGE (-6)
#define FRYS_OUT_OF_RANGE (-8)
#define FRYS_NOT_AN_INTEGER (-9)
#define FRYS_OVERFLOW (-10)

#ifndef FRYS_ABI_VERSION
#define FRYS_ABI_VERSION 3
#endif

/* Version 3: `key_type` answers, `pexpire` conditions, `zrangebyscore` flags. */
#define FRYS_TYPE_NONE 0
#define FRYS_TYPE_STRING 1
#define FRYS_TYPE_HASH 2
#define FRYS_TYPE_SET 3
#define FRYS_TYPE_ZSET 4
#define FRYS_TYPE_LIST 5
#define FRYS_EXPIRE_ALWAYS 0
#define FRYS_EXPIRE_NX 1
#define FRYS_EXPIRE_XX 2
#define FRYS_EXPIRE_GT 3
#define FRYS_EXPIRE_LT 4
#define FRYS_MIN_EXCLUSIVE 1
#define FRYS_MAX_EXCLUSIVE 2

FRYS_IMPORT("plugin") void frys_plugin(const char *name, int32_t len, int32_t version);
FRYS_IMPORT("command") int32_t frys_command(const char *name, int32_t len, int32_t arity,
                                            int32_t flags, int32_t first, int32_t last,
                                            int32_t step);
FRYS_IMPORT("arg_count") int32_t frys_arg_count(void);
FRYS_IMPORT("arg_len") int32_t frys_arg_len(int32_t i);
FRYS_IMPORT("arg_read") int32_t frys_arg_read(int32_t i, void *dst, int32_t cap);
FRYS_IMPORT("get") int64_t frys_get(const void *key, int32_t klen, void *dst, int32_t cap);
FRYS_IMPORT("ttl_ms") int64_t frys_ttl_ms(const void *key, int32_t klen);
FRYS_IMPORT("set") int32_t frys_set(const void *key, int32_t klen, const void *val, int32_t vlen,
                                    int64_t ttl_ms);
FRYS_IMPORT("del") int32_t frys_del(const void *key, int32_t klen);
FRYS_IMPORT("now_ms") int64_t frys_now_ms(void);
FRYS_IMPORT("reply_simple") int32_t frys_reply_simple(const char *s, int32_t len);
FRYS_IMPORT("reply_error") int32_t frys_reply_error(const char *s, int32_t len);
FRYS_IMPORT("reply_bulk") int32_t frys_reply_bulk(const void *p, int32_t len);
FRYS_IMPORT("reply_integer") int32_t frys_reply_integer(int64_t n);
FRYS_IMPORT("reply_null") int32_t frys_reply_null(void);
FRYS_IMPORT("reply_array") int32_t frys_reply_array(int32_t n);
FRYS_IMPORT("reply_map") int32_t frys_reply_map(int32_t n);

/* Version 2: collections. */
FRYS_IMPORT("hget") int64_t frys_hget(const void *key, int32_t klen, const void *field,
                                      int32_t flen, void *dst, int32_t cap);
FRYS_IMPORT("hset") int32_t frys_hset(const void *key, int32_t klen, const void *field,
                                      int32_t flen, const void *val, int32_t vlen);
FRYS_IMPORT("hdel") int32_t frys_hdel(const void *key, int32_t klen, const void *field,
                                      int32_t flen);
FRYS_IMPORT("hlen") int64_t frys_hlen(const void *key, int32_t klen);
FRYS_IMPORT("hfield_at") int64_t frys_hfield_at(const void *key, int32_t klen, int64_t index,
                                                void *dst, int32_t cap);
FRYS_IMPORT("sadd") int32_t frys_sadd(const void *key, int32_t klen, const void *m, int32_t mlen);
FRYS_IMPORT("srem") int32_t frys_srem(const void *key, int32_t klen, const void *m, int32_t mlen);
FRYS_IMPORT("sismember") int32_t frys_sismember(const void *key, int32_t klen, const void *m,
                                                int32_t mlen);
FRYS_IMPORT("scard") int64_t frys_scard(const void *key, int32_t klen);
FRYS_IMPORT("smember_at") int64_t frys_smember_at(const void *key, int32_t klen, int64_t index,
                                                  void *dst, int32_t cap);
FRYS_IMPORT("zadd") int32_t frys_zadd(const void *key, int32_t klen, double score, const void *m,
                                      int32_t mlen);
FRYS_IMPORT("zscore") int32_t frys_zscore(const void *key, int32_t klen, const void *m,
                                          int32_t mlen, double *score);
FRYS_IMPORT("zrem") int32_t frys_zrem(const void *key, int32_t klen, const void *m, int32_t mlen);
FRYS_IMPORT("zcard") int64_t frys_zcard(const void *key, int32_t klen);
FRYS_IMPORT("zrange_at") int64_t frys_zrange_at(const void *key, int32_t klen, int64_t rank,
                                                void *dst, int32_t cap);
FRYS_IMPORT("llen") int64_t frys_llen(const void *key, int32_t klen);
FRYS_IMPORT("lindex") int64_t frys_lindex(const void *key, int32_t klen, int64_t index, void *dst,
                                          int32_t cap);
FRYS_IMPORT("lpush") int64_t frys_lpush(const void *key, int32_t klen, const void *v, int32_t vlen);
FRYS_IMPORT("rpush") int64_t frys_rpush(const void *key, int32_t klen, const void *v, int32_t vlen);
FRYS_IMPORT("lpop") int64_t frys_lpop(const void *key, int32_t klen, void *dst, int32_t cap);
FRYS_IMPORT("rpop") int64_t frys_rpop(const void *key, int32_t klen, void *dst, int32_t cap);

#if FRYS_ABI_VERSION >= 3
/* Version 3: any key's type, existence and expiry; list edits; ranges
 * (records `u32 len, bytes[, f64 score]`, little-endian, packed: a score
 * is unaligned, read it with memcpy; as many as fit in `cap`: their
 * count, FRYS_TOO_LARGE if not even the first fits);
 * increments (the result at `out`). */
FRYS_IMPORT("key_type") int32_t frys_key_type(const void *key, int32_t klen);
FRYS_IMPORT("exists") int32_t frys_exists(const void *key, int32_t klen);
FRYS_IMPORT("pexpire") int32_t frys_pexpire(const void *key, int32_t klen, int64_t ms,
                                            int32_t cond);
FRYS_IMPORT("persist") int32_t frys_persist(const void *key, int32_t klen);
FRYS_IMPORT("lset") int32_t frys_lset(const void *key, int32_t klen, int64_t index, const void *v,
                                      int32_t vlen);
FRYS_IMPORT("linsert") int64_t frys_linsert(const void *key, int32_t klen, int32_t after,
                                            const void *pivot, int32_t plen, const void *v,
                                            int32_t vlen);
FRYS_IMPORT("lrem") int64_t frys_lrem(const void *key, int32_t klen, int64_t count, const void *v,
                                      int32_t vlen);
FRYS_IMPORT("ltrim") int32_t frys_ltrim(const void *key, int32_t klen, int64_t start, int64_t stop);
FRYS_IMPORT("lrange") int64_t frys_lrange(const void *key, int32_t klen, int64_t start,
                                          int64_t stop, void *dst, int32_t cap);
FRYS_IMPORT("zrange") int64_t frys_zrange(const void *key, int32_t klen, int64_t start,
                                          int64_t stop, void *dst, int32_t cap);
FRYS_IMPORT("zrangebyscore") int64_t frys_zrangebyscore(const void *key, int32_t klen, double min,
                                                        double max, int32_t flags, int64_t offset,
                                                        void *dst, int32_t cap);
FRYS_IMPORT("hincrby") int32_t frys_hincrby(const void *key, int32_t klen, const void *field,
                                            int32_t flen, int64_t by, int64_t *out);
FRYS_IMPORT("zincrby") int32_t frys_zincrby(const void *key, int32_t klen, double by,
                                            const void *m, int32_t mlen, double *out);
#endif

FRYS_EXPORT("frys_abi_version") int32_t frys_abi_version(void) { return FRYS_ABI_VERSION; }

static int32_t frys_strlen(const char *s) {
    int32_t n = 0;
    while (s[n]) n++;
    return n;
}
#define FRYS_STR(s) (s), frys_strlen(s)

/* Parses a non-negative decimal integer; -1 if not one. */
static int64_t frys_parse_u63(const char *p, int32_t len) {
    if (len <= 0 || len > 18) return -1;
    int64_t v = 0;
    for (int32_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

/* Writes v in decimal at dst; returns the length. */
static int32_t frys_format_u63(int64_t v, char *dst) {
    char tmp[20];
    int32_t n = 0;
    do { tmp[n++] = (char)('0' + v % 10); v /= 10; } while (v > 0);
    for (int32_t i = 0; i < n; i++) dst[i] = tmp[n - 1 - i];
    return n;
}
#endif
