/* PGET key: GET through a plugin (the bench compares it with the
 * built-in GET). */
#include "frys_wasm.h"

#define CAP (1 << 20)
static char key[4096], value[CAP];

FRYS_EXPORT("frys_init") void frys_init(void) {
    frys_plugin(FRYS_STR("pget"), 1);
    frys_command(FRYS_STR("pget"), 2, FRYS_FLAG_READONLY | FRYS_FLAG_FAST, 1, 1, 1);
}

FRYS_EXPORT("frys_call") int32_t frys_call(int32_t command) {
    (void)command;
    int32_t kl = frys_arg_read(1, key, sizeof key);
    if (kl > (int32_t)sizeof key) {
        frys_reply_error(FRYS_STR("ERR key too long"));
        return 0;
    }
    int64_t n = frys_get(key, kl, value, CAP);
    if (n == FRYS_MISSING) {
        frys_reply_null();
    } else if (n == FRYS_WRONG_TYPE) {
        frys_reply_error(FRYS_STR("WRONGTYPE Operation against a key holding the wrong kind of value"));
    } else if (n > CAP) {
        frys_reply_error(FRYS_STR("ERR value larger than 1 MiB"));
    } else {
        frys_reply_bulk(value, (int32_t)n);
    }
    return 0;
}
