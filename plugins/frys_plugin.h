/* Frys native plugin ABI, version 3 (see plugins/ABI.md). Define
 * FRYS_ABI_VERSION 1 or 2 before including it to declare an older version
 * (FrysHost then ends with that version's functions), as for
 * examples/wasm/frys_wasm.h.
 *
 * A native plugin is a shared library exporting one symbol:
 *     const FrysPlugin *frys_plugin(void);
 * returning a pointer to a static table. Native plugins are TRUSTED code:
 * they run inside the server process with no sandbox and no deadline, and
 * are never unloaded from memory. `call` may run on several cores at once
 * (one call per core at a time): keep no unsynchronised global state.
 * Versions only append functions to FrysHost (2: the collections; 3: types,
 * expiry of any key, list edits, ranges, increments); the
 * server runs plugins of its version and older ones, and refuses newer. */
#ifndef FRYS_PLUGIN_H
#define FRYS_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifndef FRYS_ABI_VERSION
#define FRYS_ABI_VERSION 3
#endif

#define FRYS_FLAG_WRITE 1u
#define FRYS_FLAG_READONLY 2u
#define FRYS_FLAG_DENYOOM 4u
#define FRYS_FLAG_FAST 8u

#define FRYS_MISSING (-1)
#define FRYS_WRONG_TYPE (-2)
#define FRYS_UNDECLARED (-3)
#define FRYS_NOT_A_NUMBER (-4)
#define FRYS_BAD_REPLY (-5)
#define FRYS_TOO_LARGE (-6)
#define FRYS_BAD_ARGS (-7)
#define FRYS_OUT_OF_RANGE (-8)
#define FRYS_NOT_AN_INTEGER (-9)
#define FRYS_OVERFLOW (-10)

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
#define FRYS_PANICKED (-1000)

/* Host functions of one call; pass `call` back to each. Pointers the host
 * returns stay valid until the next host function call or the end of the
 * call, whichever comes first; passing one as an argument of that next
 * call is fine (the host copies its inputs before acting). */
typedef struct FrysHost {
    void *call;
    int32_t (*arg_count)(void *call);
    int32_t (*arg)(void *call, int32_t i, const uint8_t **ptr, size_t *len);
    int32_t (*get)(void *call, const uint8_t *key, size_t key_len, const uint8_t **ptr, size_t *len);
    int32_t (*set)(void *call, const uint8_t *key, size_t key_len, const uint8_t *value,
                   size_t value_len, int64_t ttl_ms);
    int32_t (*del)(void *call, const uint8_t *key, size_t key_len);
    int64_t (*now_ms)(void *call);
    int32_t (*reply_simple)(void *call, const uint8_t *ptr, size_t len);
    int32_t (*reply_error)(void *call, const uint8_t *ptr, size_t len);
    int32_t (*reply_bulk)(void *call, const uint8_t *ptr, size_t len);
    int32_t (*reply_integer)(void *call, int64_t n);
    int32_t (*reply_null)(void *call);
    int32_t (*reply_array)(void *call, int64_t n);
    int32_t (*reply_map)(void *call, int64_t n);
#if FRYS_ABI_VERSION >= 2
    /* Version 2: collections (see ABI.md for the return values). */
    int32_t (*hget)(void *call, const uint8_t *key, size_t key_len, const uint8_t *field,
                    size_t field_len, const uint8_t **ptr, size_t *len);
    int32_t (*hset)(void *call, const uint8_t *key, size_t key_len, const uint8_t *field,
                    size_t field_len, const uint8_t *value, size_t value_len);
    int32_t (*hdel)(void *call, const uint8_t *key, size_t key_len, const uint8_t *field,
                    size_t field_len);
    int64_t (*hlen)(void *call, const uint8_t *key, size_t key_len);
    int32_t (*hfield_at)(void *call, const uint8_t *key, size_t key_len, int64_t index,
                         const uint8_t **ptr, size_t *len);
    int32_t (*sadd)(void *call, const uint8_t *key, size_t key_len, const uint8_t *member,
                    size_t member_len);
    int32_t (*srem)(void *call, const uint8_t *key, size_t key_len, const uint8_t *member,
                    size_t member_len);
    int32_t (*sismember)(void *call, const uint8_t *key, size_t key_len, const uint8_t *member,
                         size_t member_len);
    int64_t (*scard)(void *call, const uint8_t *key, size_t key_len);
    int32_t (*smember_at)(void *call, const uint8_t *key, size_t key_len, int64_t index,
                          const uint8_t **ptr, size_t *len);
    int32_t (*zadd)(void *call, const uint8_t *key, size_t key_len, double score,
                    const uint8_t *member, size_t member_len);
    int32_t (*zscore)(void *call, const uint8_t *key, size_t key_len, const uint8_t *member,
                      size_t member_len, double *score);
    int32_t (*zrem)(void *call, const uint8_t *key, size_t key_len, const uint8_t *member,
                    size_t member_len);
    int64_t (*zcard)(void *call, const uint8_t *key, size_t key_len);
    int32_t (*zrange_at)(void *call, const uint8_t *key, size_t key_len, int64_t rank,
                         const uint8_t **ptr, size_t *len);
    int64_t (*llen)(void *call, const uint8_t *key, size_t key_len);
    int32_t (*lindex)(void *call, const uint8_t *key, size_t key_len, int64_t index,
                      const uint8_t **ptr, size_t *len);
    int64_t (*lpush)(void *call, const uint8_t *key, size_t key_len, const uint8_t *value,
                     size_t value_len);
    int64_t (*rpush)(void *call, const uint8_t *key, size_t key_len, const uint8_t *value,
                     size_t value_len);
    int32_t (*lpop)(void *call, const uint8_t *key, size_t key_len, const uint8_t **ptr,
                    size_t *len);
    int32_t (*rpop)(void *call, const uint8_t *key, size_t key_len, const uint8_t **ptr,
                    size_t *len);
#if FRYS_ABI_VERSION >= 3
    /* Version 3: any key's type, existence and expiry; list edits; ranges
     * (records `u32 len, bytes[, f64 score]`, little-endian, packed: a
     * score is unaligned, read it with memcpy; as many as fit in `cap`:
     * their count, FRYS_TOO_LARGE if not even the first fits; a NULL `dst`
     * is an empty buffer, a `cap` past PTRDIFF_MAX FRYS_BAD_ARGS);
     * increments (the result at `out`, which may be unaligned; NULL:
     * FRYS_BAD_ARGS). `dst` and `out` must be the plugin's own writable
     * memory, never a pointer a host function returned. */
    int32_t (*key_type)(void *call, const uint8_t *key, size_t key_len);
    int32_t (*exists)(void *call, const uint8_t *key, size_t key_len);
    int64_t (*ttl_ms)(void *call, const uint8_t *key, size_t key_len);
    int32_t (*pexpire)(void *call, const uint8_t *key, size_t key_len, int64_t ms, int32_t cond);
    int32_t (*persist)(void *call, const uint8_t *key, size_t key_len);
    int32_t (*lset)(void *call, const uint8_t *key, size_t key_len, int64_t index,
                    const uint8_t *value, size_t value_len);
    int64_t (*linsert)(void *call, const uint8_t *key, size_t key_len, int32_t after,
                       const uint8_t *pivot, size_t pivot_len, const uint8_t *value,
                       size_t value_len);
    int64_t (*lrem)(void *call, const uint8_t *key, size_t key_len, int64_t count,
                    const uint8_t *value, size_t value_len);
    int32_t (*ltrim)(void *call, const uint8_t *key, size_t key_len, int64_t start, int64_t stop);
    int64_t (*lrange)(void *call, const uint8_t *key, size_t key_len, int64_t start, int64_t stop,
                      uint8_t *dst, size_t cap);
    int64_t (*zrange)(void *call, const uint8_t *key, size_t key_len, int64_t start, int64_t stop,
                      uint8_t *dst, size_t cap);
    int64_t (*zrangebyscore)(void *call, const uint8_t *key, size_t key_len, double min,
                             double max, int32_t flags, int64_t offset, uint8_t *dst, size_t cap);
    int32_t (*hincrby)(void *call, const uint8_t *key, size_t key_len, const uint8_t *field,
                       size_t field_len, int64_t by, int64_t *out);
    int32_t (*zincrby)(void *call, const uint8_t *key, size_t key_len, double by,
                       const uint8_t *member, size_t member_len, double *out);
#endif
#endif
} FrysHost;

typedef struct FrysCommand {
    const char *name; /* NUL-terminated */
    int32_t arity;    /* Redis arity: n exact, -n at least n (name included) */
    uint32_t flags;   /* FRYS_FLAG_* */
    int32_t first_key, last_key, key_step; /* Redis legacy key spec */
} FrysCommand;

typedef struct FrysPlugin {
    uint32_t abi_version; /* FRYS_ABI_VERSION; always the first field */
    const char *name;     /* NUL-terminated */
    uint32_t version;
    uint32_t command_count;
    const FrysCommand *commands;
    /* Runs commands[command]; returns 0 on success (the reply built),
     * anything else fails the call (its writes are discarded). */
    int32_t (*call)(const FrysHost *host, uint32_t command);
} FrysPlugin;

const FrysPlugin *frys_plugin(void);

#endif
