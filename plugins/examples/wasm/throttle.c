/* THROTTLE key capacity per_seconds: a token bucket of `capacity` tokens
 * that refills `capacity` tokens every `per_seconds`. Each call takes one
 * token if there is one. Replies [allowed (1/0), tokens left]. The state
 * ("<milli-tokens>:<last refill ms>") expires once the bucket would be
 * full again. */
#include "frys_wasm.h"

#define KEY_CAP 4096
static char key[KEY_CAP], arg[32], state[64];

FRYS_EXPORT("frys_init") void frys_init(void) {
    frys_plugin(FRYS_STR("throttle"), 1);
    frys_command(FRYS_STR("throttle"), 4, FRYS_FLAG_WRITE | FRYS_FLAG_DENYOOM | FRYS_FLAG_FAST, 1, 1, 1);
}

static int64_t int_arg(int32_t i) {
    int32_t len = frys_arg_read(i, arg, sizeof arg);
    if (len < 0 || len > (int32_t)sizeof arg) return -1;
    return frys_parse_u63(arg, len);
}

FRYS_EXPORT("frys_call") int32_t frys_call(int32_t command) {
    (void)command;
    int32_t kl = frys_arg_read(1, key, KEY_CAP);
    int64_t capacity = int_arg(2), per_seconds = int_arg(3);
    if (kl > KEY_CAP) {
        frys_reply_error(FRYS_STR("ERR key too long"));
        return 0;
    }
    if (capacity <= 0 || capacity > 1000000000 || per_seconds <= 0 || per_seconds > 1000000000) {
        frys_reply_error(FRYS_STR("ERR capacity and per_seconds must be integers from 1 to 1000000000"));
        return 0;
    }
    int64_t now = frys_now_ms();
    int64_t period_ms = per_seconds * 1000;
    int64_t full = capacity * 1000; /* milli-tokens */
    int64_t tokens = full, last = now;
    int64_t sl = frys_get(key, kl, state, sizeof state);
    if (sl == FRYS_WRONG_TYPE) {
        frys_reply_error(FRYS_STR("WRONGTYPE Operation against a key holding the wrong kind of value"));
        return 0;
    }
    if (sl > 0 && sl <= (int64_t)sizeof state) {
        int32_t colon = -1;
        for (int32_t i = 0; i < sl; i++) if (state[i] == ':') { colon = i; break; }
        int64_t t = colon > 0 ? frys_parse_u63(state, colon) : -1;
        int64_t l = colon > 0 ? frys_parse_u63(state + colon + 1, (int32_t)sl - colon - 1) : -1;
        if (t >= 0 && l >= 0 && l <= now) {
            /* refill: capacity tokens per period, i.e. full milli-tokens per period_ms */
            int64_t refill = (now - l) * full / period_ms;
            tokens = t + refill > full ? full : t + refill;
            last = now;
        }
    }
    int allowed = tokens >= 1000;
    if (allowed) tokens -= 1000;
    int32_t n = frys_format_u63(tokens, state);
    state[n++] = ':';
    n += frys_format_u63(last, state + n);
    int64_t ttl = ((full - tokens) * period_ms + full - 1) / full; /* until full again */
    if (ttl < 1) ttl = 1;
    if (frys_set(key, kl, state, n, ttl) != 0) return 1;
    frys_reply_array(2);
    frys_reply_integer(allowed);
    frys_reply_integer(tokens / 1000);
    return 0;
}
