/* CAS key expected new: sets key to new if it holds expected (a missing
 * key matches the empty string). Replies 1 if it set, 0 if not. */
#include "frys_wasm.h"

#define CAP 65536
static char key[CAP], expected[CAP], next[CAP], current[CAP];

FRYS_EXPORT("frys_init") void frys_init(void) {
    frys_plugin(FRYS_STR("cas"), 1);
    frys_command(FRYS_STR("cas"), 4, FRYS_FLAG_WRITE | FRYS_FLAG_DENYOOM | FRYS_FLAG_FAST, 1, 1, 1);
}

FRYS_EXPORT("frys_call") int32_t frys_call(int32_t command) {
    (void)command;
    int32_t kl = frys_arg_read(1, key, CAP);
    int32_t el = frys_arg_read(2, expected, CAP);
    int32_t nl = frys_arg_read(3, next, CAP);
    if (kl > CAP || el > CAP || nl > CAP) {
        frys_reply_error(FRYS_STR("ERR CAS arguments longer than 64 KiB"));
        return 0;
    }
    int64_t cl = frys_get(key, kl, current, CAP);
    if (cl == FRYS_WRONG_TYPE) {
        frys_reply_error(FRYS_STR("WRONGTYPE Operation against a key holding the wrong kind of value"));
        return 0;
    }
    int matches;
    if (cl == FRYS_MISSING) {
        matches = el == 0;
    } else if (cl != el || cl > CAP) {
        matches = 0;
    } else {
        matches = 1;
        for (int32_t i = 0; i < el; i++) {
            if (current[i] != expected[i]) { matches = 0; break; }
        }
    }
    if (matches && frys_set(key, kl, next, nl, 0) != 0) return 1;
    frys_reply_integer(matches);
    return 0;
}
