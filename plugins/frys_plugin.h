/* Frys native plugin ABI, version 1 (see plugins/ABI.md).
 *
 * A native plugin is a shared library exporting one symbol:
 *     const FrysPlugin *frys_plugin(void);
 * returning a pointer to a static table. Native plugins are TRUSTED code:
 * they run inside the server process with no sandbox and no deadline, and
 * are never unloaded from memory. `call` may run on several cores at once
 * (one call per core at a time): keep no unsynchronised global state. */
#ifndef FRYS_PLUGIN_H
#define FRYS_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#define FRYS_ABI_VERSION 1

#define FRYS_FLAG_WRITE 1u
#define FRYS_FLAG_READONLY 2u
#define FRYS_FLAG_DENYOOM 4u
#define FRYS_FLAG_FAST 8u

#define FRYS_MISSING (-1)
#define FRYS_WRONG_TYPE (-2)
#define FRYS_UNDECLARED (-3)
#define FRYS_BAD_REPLY (-5)
#define FRYS_PANICKED (-1000)

/* Host functions of one call; pass `call` back to each. Pointers the host
 * returns stay valid until the next host function call or the end of the
 * call, whichever comes first. */
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
