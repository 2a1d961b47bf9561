/* Test plugin "rekey" (WASM, ABI v1), built twice to change its key
 * positions across a PLUGIN RELOAD:
 *   REKEY key [key ...]   sets each declared key to "v<version>"; answers
 *                         how many it set
 * Version 1 (-DREKEY_VERSION=1) declares argument 1 as its only key;
 * version 2 declares every argument. */
#include "../wasm/frys_wasm.h"

#ifndef REKEY_VERSION
#define REKEY_VERSION 1
#endif

#define CAP 256
static char key[CAP];
static const char value[] = {'v', '0' + REKEY_VERSION};

FRYS_EXPORT("frys_init") void frys_init(void) {
    frys_plugin(FRYS_STR("rekey"), REKEY_VERSION);
    frys_command(FRYS_STR("rekey"), -2, FRYS_FLAG_WRITE, 1, REKEY_VERSION == 1 ? 1 : -1, 1);
}

FRYS_EXPORT("frys_call") int32_t frys_call(int32_t command) {
    (void)command;
    int32_t last = REKEY_VERSION == 1 ? 1 : frys_arg_count() - 1;
    for (int32_t i = 1; i <= last; i++) {
        int32_t kl = frys_arg_read(i, key, CAP);
        if (kl > CAP) {
            frys_reply_error(FRYS_STR("ERR key longer than 256 bytes"));
            return 0;
        }
        if (frys_set(key, kl, value, 2, 0) != 0) return 1;
    }
    frys_reply_integer(last);
    return 0;
}
