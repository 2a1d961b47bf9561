/* A native plugin of ABI version 1 (before the collection functions):
 * the server still loads and runs it. V1GET key answers GET's value. */
#include "../../frys_plugin.h"

static int32_t call(const FrysHost *host, uint32_t command) {
    (void)command;
    const uint8_t *key, *value;
    size_t key_len, value_len;
    if (host->arg(host->call, 1, &key, &key_len) != 0) return 1;
    int32_t rc = host->get(host->call, key, key_len, &value, &value_len);
    if (rc == FRYS_MISSING) return host->reply_null(host->call);
    if (rc != 0) return rc;
    return host->reply_bulk(host->call, value, value_len);
}

static const FrysCommand commands[] = {{"v1get", 2, FRYS_FLAG_READONLY, 1, 1, 1}};
static const FrysPlugin plugin = {1, "v1", 1, 1, commands, call};

const FrysPlugin *frys_plugin(void) { return &plugin; }
