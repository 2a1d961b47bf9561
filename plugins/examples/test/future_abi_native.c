/* A native plugin claiming ABI version 4: the server refuses it, naming
 * both versions. */
#include "../../frys_plugin.h"

static int32_t call(const FrysHost *host, uint32_t command) {
    (void)host;
    (void)command;
    return 0;
}

static const FrysCommand commands[] = {{"future", 2, FRYS_FLAG_READONLY, 1, 1, 1}};
static const FrysPlugin plugin = {4, "future", 1, 1, commands, call};

const FrysPlugin *frys_plugin(void) { return &plugin; }
