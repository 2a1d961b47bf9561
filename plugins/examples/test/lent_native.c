/* A native plugin that passes a pointer the host lent it straight back to
 * the next host function, as the ABI allows ("valid until the next host
 * function call"): the host must read it before changing anything.
 *   ZBUMPFIRST key      the member of rank 0 gets score 100 (zrange_at -> zadd)
 *   SREMFIRST key       removes the first member (smember_at -> srem)
 *   HDELFIRST key       removes the first field (hfield_at -> hdel)
 *   HSETFIRST key       the first field's value becomes its own name
 *                       (hfield_at -> hset, the lent pointer as field and value)
 *   LPOPNULL key        lpop with NULL out-pointers: answers the return code
 * Each answers the write's return code, or nil when the key is empty. */
#include "../../frys_plugin.h"

static int32_t call(const FrysHost *h, uint32_t command) {
    const uint8_t *key, *m;
    size_t kl, ml;
    if (h->arg(h->call, 1, &key, &kl) != 0) return 1;
    int32_t rc;
    switch (command) {
    case 0: rc = h->zrange_at(h->call, key, kl, 0, &m, &ml); break;
    case 1: rc = h->smember_at(h->call, key, kl, 0, &m, &ml); break;
    case 2:
    case 3: rc = h->hfield_at(h->call, key, kl, 0, &m, &ml); break;
    default: return h->reply_integer(h->call, h->lpop(h->call, key, kl, 0, 0));
    }
    if (rc == FRYS_MISSING) return h->reply_null(h->call);
    if (rc != 0) return rc;
    switch (command) {
    case 0: rc = h->zadd(h->call, key, kl, 100.0, m, ml); break;
    case 1: rc = h->srem(h->call, key, kl, m, ml); break;
    case 2: rc = h->hdel(h->call, key, kl, m, ml); break;
    default: rc = h->hset(h->call, key, kl, m, ml, m, ml); break;
    }
    return h->reply_integer(h->call, rc);
}

static const FrysCommand commands[] = {
    {"zbumpfirst", 2, FRYS_FLAG_WRITE, 1, 1, 1},
    {"sremfirst", 2, FRYS_FLAG_WRITE, 1, 1, 1},
    {"hdelfirst", 2, FRYS_FLAG_WRITE, 1, 1, 1},
    {"hsetfirst", 2, FRYS_FLAG_WRITE, 1, 1, 1},
    {"lpopnull", 2, FRYS_FLAG_WRITE, 1, 1, 1},
};
static const FrysPlugin plugin = {2, "lent", 1, 5, commands, call};

const FrysPlugin *frys_plugin(void) { return &plugin; }
