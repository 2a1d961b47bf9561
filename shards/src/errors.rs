//! Every error text the server sends, copied from Redis 7's source.
//!
//! A text is the reply without its leading `-` and trailing CRLF; its first
//! word is the error code (`ERR`, `WRONGTYPE`, ...) that INFO errorstats
//! counts, see [`error_code`]. Build the reply with `Reply::error(text)`.
//!
//! Invariants: no text returned here contains `\r` or `\n` (client bytes
//! echoed back have them replaced by spaces, as Redis does), and formatted
//! texts reproduce Redis' `printf` behaviour on client bytes: `%s` stops at
//! a NUL byte, `%.128s` also truncates to 128 bytes. Echoed bytes that are
//! not UTF-8 become U+FFFD (Redis echoes them raw); that is the only
//! deliberate difference.
//!
//! Texts from Redis' shared objects (`createSharedObjects` in server.c) and
//! fixed `addReplyError` strings are constants; texts with arguments are
//! functions.

#![forbid(unsafe_code)]

// ---------------------------------------------------------------- generic

/// `shared.syntaxerr`; also what SET answers for NX with XX, EX with PX...
pub const SYNTAX: &str = "ERR syntax error";
/// `getLongLongFromObjectOrReply` without a custom message.
pub const NOT_AN_INTEGER: &str = "ERR value is not an integer or out of range";
/// `getDoubleFromObjectOrReply` / `getLongDoubleFromObjectOrReply`.
pub const NOT_A_FLOAT: &str = "ERR value is not a valid float";
/// `getLongFromObjectOrReply` for a value outside `long`.
pub const VALUE_OUT_OF_RANGE: &str = "ERR value is out of range";
/// `shared.outofrangeerr`.
pub const INDEX_OUT_OF_RANGE: &str = "ERR index out of range";
/// INCR, INCRBY, DECR, DECRBY overflowing `i64`.
pub const INCR_OVERFLOW: &str = "ERR increment or decrement would overflow";
/// DECRBY with `i64::MIN` (it cannot be negated).
pub const DECR_OVERFLOW: &str = "ERR decrement would overflow";
/// INCRBYFLOAT / HINCRBYFLOAT producing a non-finite value.
pub const INCR_NAN_OR_INFINITY: &str = "ERR increment would produce NaN or Infinity";
/// `shared.wrongtypeerr`.
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
/// `shared.nokeyerr` (RENAME, OBJECT, DEBUG OBJECT on a missing key).
pub const NO_SUCH_KEY: &str = "ERR no such key";
/// `shared.sameobjecterr` (MOVE to the same DB, COPY onto itself).
pub const SAME_OBJECT: &str = "ERR source and destination objects are the same";
/// `shared.busykeyerr`.
pub const BUSYKEY: &str = "BUSYKEY Target key name already exists.";
/// `shared.oomerr`.
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
/// `shared.loadingerr`.
pub const LOADING: &str = "LOADING Redis is loading the dataset in memory";
/// `shared.roslaveerr`.
pub const READONLY: &str = "READONLY You can't write against a read only replica.";
/// `shared.noreplicaserr`.
pub const NOREPLICAS: &str = "NOREPLICAS Not enough good replicas to write.";
/// `shared.masterdownerr`.
pub const MASTERDOWN: &str =
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
/// `shared.bgsaveerr`.
pub const MISCONF_BGSAVE: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// `getRangeLongFromObjectOrReply` without a custom message.
pub fn value_out_of_range_between(min: i64, max: i64) -> String {
    format!("ERR value is out of range, value must between {min} and {max}")
}

// ------------------------------------------------------- command dispatch

/// `commandCheckExistence`: a command name not in the table.
///
/// Redis: `unknown command '%.128s', with args beginning with: ` followed,
/// while fewer than 128 bytes were written, by `'%.*s' ` for each argument
/// with the precision `128 - written`; CR and LF become spaces. The text
/// keeps its trailing space.
///
/// # Examples
///
/// ```
/// use frys_shards::errors::unknown_command;
///
/// assert_eq!(
///     unknown_command(b"foo", [&b"a"[..], b"b\r\n"]),
///     "ERR unknown command 'foo', with args beginning with: 'a' 'b  ' "
/// );
/// ```
pub fn unknown_command<'a>(name: &[u8], args: impl IntoIterator<Item = &'a [u8]>) -> String {
    const MAX: usize = 128;
    let mut tail = Vec::new();
    for arg in args {
        if tail.len() >= MAX {
            break;
        }
        let precision = MAX - tail.len();
        tail.push(b'\'');
        tail.extend_from_slice(c_str(arg, precision));
        tail.extend_from_slice(b"' ");
    }
    let mut text = b"ERR unknown command '".to_vec();
    text.extend_from_slice(c_str(name, MAX));
    text.extend_from_slice(b"', with args beginning with: ");
    text.extend_from_slice(&tail);
    finish(text)
}

/// `commandCheckExistence` for a container command (CLIENT, CONFIG,
/// OBJECT, COMMAND, ...) with an unknown subcommand.
///
/// Redis: `unknown subcommand '%.128s'. Try %s HELP.` with the container
/// name upper-cased.
pub fn unknown_subcommand(container: &[u8], subcommand: &[u8]) -> String {
    let mut text = b"ERR unknown subcommand '".to_vec();
    text.extend_from_slice(c_str(subcommand, 128));
    text.extend_from_slice(b"'. Try ");
    text.extend(
        c_str(container, usize::MAX)
            .iter()
            .map(u8::to_ascii_uppercase),
    );
    text.extend_from_slice(b" HELP.");
    finish(text)
}

/// `addReplySubcommandSyntaxError`: what a container command answers for
/// an argument shape its own parser does not know.
pub fn subcommand_syntax(container: &[u8], subcommand: &[u8]) -> String {
    let mut text = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
    text.extend_from_slice(c_str(subcommand, 128));
    text.extend_from_slice(b"'. Try ");
    text.extend(
        c_str(container, usize::MAX)
            .iter()
            .map(u8::to_ascii_uppercase),
    );
    text.extend_from_slice(b" HELP.");
    finish(text)
}

/// `commandCheckArity` / `addReplyErrorArity`. `full_name` is the table's
/// lower-case name; a subcommand is `container|sub`, e.g. `client|setname`.
pub fn wrong_number_of_arguments(full_name: &str) -> String {
    finish(format!("ERR wrong number of arguments for '{full_name}' command").into_bytes())
}

/// `addReplyErrorExpireTime`: `full_name` as in
/// [`wrong_number_of_arguments`].
pub fn invalid_expire_time(full_name: &str) -> String {
    finish(format!("ERR invalid expire time in '{full_name}' command").into_bytes())
}

/// A `CMD_NO_MULTI` command inside MULTI.
pub const NOT_ALLOWED_IN_MULTI: &str = "ERR Command not allowed inside a transaction";

/// A command other than the subscribe family in RESP2 subscriber context.
pub fn only_subscribe_allowed(full_name: &str) -> String {
    finish(
        format!(
            "ERR Can't execute '{full_name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        )
        .into_bytes(),
    )
}

/// DEBUG when `enable-debug-command` does not allow it.
pub const DEBUG_NOT_ALLOWED: &str = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

/// A replica sending keyspace commands.
pub const REPLICA_KEYSPACE: &str = "ERR Replica can't interact with the keyspace";

// ------------------------------------------------------------------ auth

/// `shared.noautherr`: any command but AUTH/HELLO/... before AUTH.
pub const NOAUTH: &str = "NOAUTH Authentication required.";
/// AUTH or HELLO AUTH with bad credentials.
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
/// `AUTH <password>` while the default user has no password.
pub const AUTH_NOT_CONFIGURED: &str = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?";
/// HELLO with a version other than 2 or 3.
pub const NOPROTO: &str = "NOPROTO unsupported protocol version";
/// HELLO whose version is not an integer.
pub const HELLO_VERSION_NOT_INTEGER: &str =
    "ERR Protocol version is not an integer or out of range";
/// HELLO (without AUTH) from an unauthenticated client.
pub const HELLO_NOAUTH: &str = "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time";

/// HELLO with an option it does not know (or one missing its values).
pub fn hello_syntax(option: &[u8]) -> String {
    format_error(b"ERR Syntax error in HELLO option '", option, b"'")
}

// -------------------------------------------------------------- strings

/// SET/APPEND/SETRANGE result longer than `proto-max-bulk-len`.
pub const STRING_TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
/// SETRANGE with a negative offset.
pub const OFFSET_OUT_OF_RANGE: &str = "ERR offset is out of range";
/// SETBIT/GETBIT/BITFIELD offset.
pub const BIT_OFFSET_NOT_INTEGER: &str = "ERR bit offset is not an integer or out of range";
/// SETBIT value.
pub const BIT_NOT_INTEGER: &str = "ERR bit is not an integer or out of range";
/// LCS on a non-string key.
pub const LCS_NOT_STRINGS: &str = "ERR The specified keys must contain string values";
/// LCS with both LEN and IDX.
pub const LCS_LEN_AND_IDX: &str =
    "ERR If you want both the length and indexes, please just use IDX.";
/// LCS inputs too long.
pub const LCS_TOO_LONG: &str = "ERR String too long for LCS";
/// LCS table above `proto-max-bulk-len`.
pub const LCS_MEMORY_LIMIT: &str =
    "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len";
/// LCS table allocation failure.
pub const LCS_ALLOCATION: &str =
    "ERR Insufficient memory, failed allocating transient memory for LCS";

// ---------------------------------------------------------- sorted sets

/// ZADD with both XX and NX.
pub const ZADD_XX_AND_NX: &str = "ERR XX and NX options at the same time are not compatible";
/// ZADD with GT and LT, or either with NX.
pub const ZADD_GT_LT_NX: &str = "ERR GT, LT, and/or NX options at the same time are not compatible";
/// ZADD INCR with more than one score-member pair.
pub const ZADD_INCR_ONE_PAIR: &str = "ERR INCR option supports a single increment-element pair";
/// ZADD INCR / ZINCRBY adding -inf to +inf.
pub const ZSCORE_NAN: &str = "ERR resulting score is not a number (NaN)";
/// A score range bound that is not a float.
pub const ZRANGE_NOT_FLOAT: &str = "ERR min or max is not a float";
/// A lex range bound that does not start with `[`, `(`, or is not `-`/`+`.
pub const ZRANGE_NOT_LEX: &str = "ERR min or max not valid string range item";
/// ZRANGE ... LIMIT on a range by rank.
pub const ZRANGE_LIMIT_NEEDS_BY: &str =
    "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX";
/// ZRANGE ... BYLEX WITHSCORES.
pub const ZRANGE_BYLEX_WITHSCORES: &str =
    "ERR syntax error, WITHSCORES not supported in combination with BYLEX";
/// ZUNION / ZINTER WEIGHTS with a value that is not a float.
pub const WEIGHT_NOT_FLOAT: &str = "ERR weight value is not a float";
/// ZINTERCARD / SINTERCARD LIMIT not a non-negative integer.
pub const LIMIT_NEGATIVE: &str = "ERR LIMIT can't be negative";
/// ZMPOP / LMPOP / SINTERCARD numkeys below 1 or not an integer.
pub const NUMKEYS_NOT_POSITIVE: &str = "ERR numkeys should be greater than 0";
/// ZMPOP / LMPOP COUNT below 1 or not an integer.
pub const COUNT_NOT_POSITIVE: &str = "ERR count should be greater than 0";

/// ZUNION & co. with numkeys 0: `full_name` is the table's name.
pub fn at_least_one_input_key(full_name: &str) -> String {
    finish(format!("ERR at least 1 input key is needed for '{full_name}' command").into_bytes())
}

// -------------------------------------------------------------- cluster

/// `clusterRedirectClient`: keys of several slots.
pub const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";
/// `clusterRedirectClient`: the key's slot has no owner.
pub const CLUSTERDOWN_UNBOUND: &str = "CLUSTERDOWN Hash slot not served";
/// `clusterRedirectClient`: the cluster is down (some slot has no owner).
pub const CLUSTERDOWN: &str = "CLUSTERDOWN The cluster is down";
/// CLUSTER, ASKING, READONLY, READWRITE without cluster mode.
pub const CLUSTER_DISABLED: &str = "ERR This instance has cluster support disabled";
/// CLUSTER COUNTKEYSINSLOT with a slot outside `0..16384`.
pub const INVALID_SLOT: &str = "ERR Invalid slot";
/// CLUSTER GETKEYSINSLOT with a bad slot or a negative count.
pub const INVALID_SLOT_OR_COUNT: &str = "ERR Invalid slot or number of keys";

/// CLUSTERX SETNODES on a node in emulated cluster mode (frys' own).
pub const SETNODES_EMULATED: &str =
    "ERR this node runs in emulated cluster mode: it owns every slot and takes no slot map";

/// `clusterRedirectClient`: another node owns `slot`.
pub fn moved(slot: u16, addr: &str) -> String {
    format!("MOVED {slot} {addr}")
}

/// `clusterRedirectClient`: the slot is migrating and the keys are not
/// here: the client asks the importing node at `addr` (ASKING first).
pub fn ask(slot: u16, addr: &str) -> String {
    format!("ASK {slot} {addr}")
}

/// `clusterRedirectClient`: some keys of a multi-key request on a
/// migrating or importing slot are not here.
pub const TRYAGAIN: &str = "TRYAGAIN Multiple keys request during rehashing of slot";
/// CLUSTER SETSLOT with a slot that is no number in `0..16384`
/// (`getSlotOrReply`).
pub const INVALID_OR_OUT_OF_RANGE_SLOT: &str = "ERR Invalid or out of range slot";
/// CLUSTER SETSLOT with an unknown action or the wrong number of arguments.
pub const SETSLOT_SYNTAX: &str =
    "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP";

/// CLUSTER SETSLOT ... MIGRATING on a node that does not own the slot.
pub fn not_slot_owner(slot: u16) -> String {
    format!("ERR I'm not the owner of hash slot {slot}")
}

/// CLUSTER SETSLOT ... IMPORTING on the slot's owner.
pub fn already_slot_owner(slot: u16) -> String {
    format!("ERR I'm already the owner of hash slot {slot}")
}

/// CLUSTER SETSLOT naming a node that is not in the map.
pub fn unknown_node(id: &[u8]) -> String {
    format!(
        "ERR I don't know about node {}",
        String::from_utf8_lossy(id)
    )
}

// ------------------------------------------------------------- keyspace

/// SELECT, MOVE, COPY DB, SWAPDB with a DB index out of range.
pub const DB_INDEX_OUT_OF_RANGE: &str = "ERR DB index is out of range";
/// SWAPDB's first index not an integer.
pub const INVALID_FIRST_DB_INDEX: &str = "ERR invalid first DB index";
/// SWAPDB's second index not an integer.
pub const INVALID_SECOND_DB_INDEX: &str = "ERR invalid second DB index";
/// SELECT of a DB other than 0 in cluster mode.
pub const SELECT_IN_CLUSTER: &str = "ERR SELECT is not allowed in cluster mode";
/// MOVE in cluster mode.
pub const MOVE_IN_CLUSTER: &str = "ERR MOVE is not allowed in cluster mode";
/// SWAPDB in cluster mode.
pub const SWAPDB_IN_CLUSTER: &str = "ERR SWAPDB is not allowed in cluster mode";
/// COPY ... DB in cluster mode.
pub const COPY_DB_IN_CLUSTER: &str =
    "ERR Copying to another database is not allowed in cluster mode";
/// COPY of a value of unknown type.
pub const UNKNOWN_TYPE_OBJECT: &str = "ERR unknown type object";
/// SCAN family cursor not an unsigned integer.
pub const INVALID_CURSOR: &str = "ERR invalid cursor";
/// SCAN ... NOVALUES outside HSCAN.
pub const NOVALUES_OUTSIDE_HSCAN: &str = "ERR NOVALUES option can only be used in HSCAN";

/// SCAN ... TYPE with a name that is no type.
pub fn unknown_type_name(name: &[u8]) -> String {
    format_error(b"ERR unknown type name '", name, b"'")
}

// ----------------------------------------------------------------- lists

/// `getPositiveLongFromObjectOrReply` without a custom message (LPOP /
/// RPOP count).
pub const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";
/// LPOS ... RANK 0.
pub const LPOS_RANK_ZERO: &str = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";
/// LPOS ... COUNT not a non-negative integer.
pub const LPOS_COUNT_NEGATIVE: &str = "ERR COUNT can't be negative";
/// LPOS ... MAXLEN not a non-negative integer.
pub const LPOS_MAXLEN_NEGATIVE: &str = "ERR MAXLEN can't be negative";
/// A blocking command's timeout that is not a number.
pub const TIMEOUT_NOT_FLOAT: &str = "ERR timeout is not a float or out of range";
/// A blocking command's timeout too large to be a deadline.
pub const TIMEOUT_OUT_OF_RANGE: &str = "ERR timeout is out of range";
/// A blocking command's negative timeout.
pub const TIMEOUT_NEGATIVE: &str = "ERR timeout is negative";

// --------------------------------------------------------------- expire

/// EXPIRE family: NX together with XX, GT or LT.
pub const EXPIRE_NX_AND_XX_GT_LT: &str =
    "ERR NX and XX, GT or LT options at the same time are not compatible";
/// EXPIRE family: GT together with LT.
pub const EXPIRE_GT_AND_LT: &str = "ERR GT and LT options at the same time are not compatible";

/// EXPIRE family: an option other than NX/XX/GT/LT.
pub fn unsupported_option(option: &[u8]) -> String {
    format_error(b"ERR Unsupported option ", option, b"")
}

// --------------------------------------------------------- transactions

/// MULTI inside MULTI.
pub const MULTI_NESTED: &str = "ERR MULTI calls can not be nested";
/// EXEC outside MULTI.
pub const EXEC_WITHOUT_MULTI: &str = "ERR EXEC without MULTI";
/// DISCARD outside MULTI.
pub const DISCARD_WITHOUT_MULTI: &str = "ERR DISCARD without MULTI";
/// WATCH inside MULTI.
pub const WATCH_INSIDE_MULTI: &str = "ERR WATCH inside MULTI is not allowed";
/// `shared.execaborterr`: EXEC after a queued command was rejected.
pub const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";

/// EXEC itself rejected before running (e.g. NOAUTH, OOM, READONLY):
/// `-EXECABORT Transaction discarded because of: <reason>`.
///
/// Redis passes the rejection text without its code when the code is
/// `ERR` (those texts never carried a `-` prefix) and with it otherwise, so
/// `ERR ` is dropped here and any other code kept.
pub fn exec_abort_because(rejection: &str) -> String {
    let reason = rejection.strip_prefix("ERR ").unwrap_or(rejection);
    format_error(
        b"EXECABORT Transaction discarded because of: ",
        reason.as_bytes(),
        b"",
    )
}

// ---------------------------------------------------- connection, CLIENT

/// Written raw at accept time, then the connection is closed.
pub const MAX_CLIENTS: &str = "ERR max number of clients reached";
/// CLIENT SETNAME / HELLO SETNAME with a byte outside `!`..=`~`.
pub const CLIENT_NAME_INVALID: &str =
    "ERR Client names cannot contain spaces, newlines or special characters.";
/// CLIENT KILL (old form) matching nobody.
pub const NO_SUCH_CLIENT: &str = "ERR No such client";
/// CLIENT KILL ID not a positive integer.
pub const CLIENT_ID_NOT_POSITIVE: &str = "ERR client-id should be greater than 0";
/// FUNCTION FLUSH with an option other than SYNC / ASYNC.
pub const FUNCTION_FLUSH_OPTION: &str = "ERR FUNCTION FLUSH only supports SYNC|ASYNC option";
/// CLIENT LIST ID with an id that is not a positive integer.
pub const INVALID_CLIENT_ID: &str = "ERR Invalid client ID";
/// CLIENT KILL MAXAGE not an integer.
pub const MAXAGE_NOT_INTEGER: &str = "ERR maxage is not an integer or out of range";
/// CLIENT KILL MAXAGE <= 0.
pub const MAXAGE_NOT_POSITIVE: &str = "ERR maxage should be greater than 0";
/// CLIENT UNBLOCK with a bad reason.
pub const CLIENT_UNBLOCK_REASON: &str = "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR";
/// CLIENT PAUSE with a bad mode.
pub const CLIENT_PAUSE_MODE: &str = "ERR CLIENT PAUSE mode must be WRITE or ALL";
/// RESET from a replica, master or module client.
pub const RESET_NOT_NORMAL: &str = "ERR can only reset normal client connections";
/// MONITOR from a client that may not block.
pub const MONITOR_DENY_BLOCKING: &str = "ERR MONITOR isn't allowed for DENY BLOCKING client";

/// CLIENT SETINFO with an attribute other than LIB-NAME / LIB-VER.
pub fn client_setinfo_unrecognized(attribute: &[u8]) -> String {
    format_error(b"ERR Unrecognized option '", attribute, b"'")
}

/// CLIENT SETINFO with a value outside `!`..=`~` (the attribute as typed).
pub fn client_setinfo_invalid(attribute: &[u8]) -> String {
    format_error(
        b"ERR ",
        attribute,
        b" cannot contain spaces, newlines or special characters.",
    )
}

/// CLIENT LIST / KILL TYPE with an unknown type.
pub fn unknown_client_type(kind: &[u8]) -> String {
    format_error(b"ERR Unknown client type '", kind, b"'")
}

/// CLIENT KILL USER with an unknown user.
pub fn no_such_user(user: &[u8]) -> String {
    format_error(b"ERR No such user '", user, b"'")
}

// --------------------------------------------------------------- CONFIG

/// CONFIG REWRITE without a config file.
pub const CONFIG_NO_FILE: &str = "ERR The server is running without a config file";
/// CONFIG SET reasons (the `- <reason>` tail of [`config_set_failed`]).
pub const CONFIG_REASON_DUPLICATE: &str = "duplicate parameter";
/// CONFIG SET of an immutable parameter.
pub const CONFIG_REASON_IMMUTABLE: &str = "can't set immutable config";
/// CONFIG SET of a protected parameter.
pub const CONFIG_REASON_PROTECTED: &str = "can't set protected config";
/// A boolean parameter's value.
pub const CONFIG_REASON_YES_NO: &str = "argument must be 'yes' or 'no'";
/// A numeric parameter's value.
pub const CONFIG_REASON_NOT_INTEGER: &str = "argument couldn't be parsed into an integer";
/// A memory parameter's value.
pub const CONFIG_REASON_NOT_MEMORY: &str = "argument must be a memory value";

/// CONFIG SET of an unknown parameter (or an odd argument count).
pub fn config_set_unknown(parameter: &[u8]) -> String {
    format_error(
        b"ERR Unknown option or number of arguments for CONFIG SET - '",
        parameter,
        b"'",
    )
}

/// CONFIG SET refused with a reason, e.g. [`CONFIG_REASON_DUPLICATE`].
pub fn config_set_failed(parameter: &[u8], reason: &str) -> String {
    let mut tail = b"') - ".to_vec();
    tail.extend_from_slice(reason.as_bytes());
    format_error(
        b"ERR CONFIG SET failed (possibly related to argument '",
        parameter,
        &tail,
    )
}

/// A numeric CONFIG SET value outside its range.
pub fn config_reason_between(min: i64, max: i64) -> String {
    format!("argument must be between {min} and {max} inclusive")
}

/// CONFIG REWRITE failing with an OS error text.
pub fn config_rewrite_failed(os_error: &str) -> String {
    format_error(b"ERR Rewriting config file: ", os_error.as_bytes(), b"")
}

// -------------------------------------------------------------- COMMAND

/// COMMAND GETKEYS of an unknown command.
pub const COMMAND_INVALID: &str = "ERR Invalid command specified";
/// COMMAND GETKEYS of a command without keys.
pub const COMMAND_NO_KEYS: &str = "ERR The command has no key arguments";
/// COMMAND GETKEYS with the wrong arity.
pub const COMMAND_INVALID_ARITY: &str = "ERR Invalid number of arguments specified for command";
/// COMMAND GETKEYS whose key specs find nothing.
pub const COMMAND_INVALID_ARGUMENTS: &str = "ERR Invalid arguments specified for command";

// ------------------------------------------------- SHUTDOWN, OBJECT, DEBUG

/// SHUTDOWN ABORT with no shutdown under way.
pub const NO_SHUTDOWN_IN_PROGRESS: &str = "ERR No shutdown in progress.";
/// SHUTDOWN that failed to save.
pub const SHUTDOWN_FAILED: &str = "ERR Errors trying to SHUTDOWN. Check logs.";
/// SHUTDOWN (waiting) from a client that may not block.
pub const SHUTDOWN_DENY_BLOCKING: &str =
    "ERR SHUTDOWN without NOW or ABORT isn't allowed for DENY BLOCKING client";
/// OBJECT IDLETIME under an LFU policy.
pub const OBJECT_IDLETIME_LFU: &str = "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
/// OBJECT FREQ without an LFU policy.
pub const OBJECT_FREQ_NO_LFU: &str = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
/// DEBUG PROTOCOL with an unknown type.
pub const DEBUG_PROTOCOL_TYPE: &str = "ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false";

// ------------------------------------------------------------- protocol

/// `*<count>` not an integer, or above `INT_MAX`.
pub const PROTOCOL_INVALID_MULTIBULK_LENGTH: &str = "ERR Protocol error: invalid multibulk length";
/// `*<count>` above 10 before authentication.
pub const PROTOCOL_UNAUTHENTICATED_MULTIBULK_LENGTH: &str =
    "ERR Protocol error: unauthenticated multibulk length";
/// `$<len>` not an integer, negative, or above `proto-max-bulk-len`.
pub const PROTOCOL_INVALID_BULK_LENGTH: &str = "ERR Protocol error: invalid bulk length";
/// `$<len>` above 16384 before authentication.
pub const PROTOCOL_UNAUTHENTICATED_BULK_LENGTH: &str =
    "ERR Protocol error: unauthenticated bulk length";
/// A `*` line without `\r` in the first 64 KiB.
pub const PROTOCOL_TOO_BIG_MBULK_COUNT: &str = "ERR Protocol error: too big mbulk count string";
/// A `$` line without `\r` in the first 64 KiB.
pub const PROTOCOL_TOO_BIG_BULK_COUNT: &str = "ERR Protocol error: too big bulk count string";
/// An inline request without `\n` in the first 64 KiB.
pub const PROTOCOL_TOO_BIG_INLINE: &str = "ERR Protocol error: too big inline request";
/// An inline request with unbalanced quotes.
pub const PROTOCOL_UNBALANCED_QUOTES: &str = "ERR Protocol error: unbalanced quotes in request";

/// A bulk header not starting with `$`: `expected '$', got '%c'`.
///
/// `%c` of a NUL byte ends the C string there, so Redis sends
/// `... got '` and nothing after; CR and LF become spaces.
pub fn protocol_expected_dollar(got: u8) -> String {
    let mut text = b"ERR Protocol error: expected '$', got '".to_vec();
    if got != 0 {
        text.push(got);
        text.push(b'\'');
    }
    finish(text)
}

// ----------------------------------------------------------- error codes

/// The error code INFO errorstats counts for an error text: its first
/// word, when a space ends it within Redis' 32-byte window (counting the
/// `-`), else `ERR`.
///
/// # Examples
///
/// ```
/// use frys_shards::errors::{error_code, WRONGTYPE};
///
/// assert_eq!(error_code(WRONGTYPE), "WRONGTYPE");
/// assert_eq!(error_code("ERR syntax error"), "ERR");
/// assert_eq!(error_code("NOSPACEHERE"), "ERR");
/// ```
pub fn error_code(text: &str) -> &str {
    const WINDOW: usize = 31;
    match text.bytes().take(WINDOW).position(|b| b == b' ') {
        Some(end) => text.get(..end).unwrap_or("ERR"),
        None => "ERR",
    }
}

/// Replaces CR and LF with spaces, as `sdsmapchars(s, "\r\n", "  ", 2)`.
pub fn replace_newlines(text: &mut [u8]) {
    for b in text.iter_mut() {
        if *b == b'\r' || *b == b'\n' {
            *b = b' ';
        }
    }
}

// ---------------------------------------------------------------- helpers

/// What `%.<max>s` prints of client bytes: up to the first NUL, at most
/// `max` bytes.
fn c_str(bytes: &[u8], max: usize) -> &[u8] {
    let end = bytes
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(bytes.len())
        .min(max);
    bytes.get(..end).unwrap_or(bytes)
}

/// `addReplyErrorFormat(c, "<head>%s<tail>", arg)`: the argument printed
/// as `%s`, then CR/LF trimmed from both ends and replaced inside.
fn format_error(head: &[u8], arg: &[u8], tail: &[u8]) -> String {
    let mut text = head.to_vec();
    text.extend_from_slice(c_str(arg, usize::MAX));
    text.extend_from_slice(tail);
    let start = text
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(text.len());
    let end = text
        .iter()
        .rposition(|&b| b != b'\r' && b != b'\n')
        .map_or(start, |i| i + 1);
    finish(text.get(start..end).unwrap_or_default().to_vec())
}

fn finish(mut text: Vec<u8>) -> String {
    replace_newlines(&mut text);
    match String::from_utf8(text) {
        Ok(text) => text,
        Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_error_objects_match_redis_source() {
        // Literals from createSharedObjects(), minus "-" and "\r\n".
        assert_eq!(
            WRONGTYPE,
            "WRONGTYPE Operation against a key holding the wrong kind of value"
        );
        assert_eq!(NOAUTH, "NOAUTH Authentication required.");
        assert_eq!(SYNTAX, "ERR syntax error");
        assert_eq!(
            EXECABORT,
            "EXECABORT Transaction discarded because of previous errors."
        );
        assert_eq!(
            WRONGPASS,
            "WRONGPASS invalid username-password pair or user is disabled."
        );
    }

    #[test]
    fn unknown_command_lists_args_in_quotes_with_trailing_space() {
        assert_eq!(
            unknown_command(b"foo", []),
            "ERR unknown command 'foo', with args beginning with: "
        );
        assert_eq!(
            unknown_command(b"foo", [&b"bar"[..], b"baz"]),
            "ERR unknown command 'foo', with args beginning with: 'bar' 'baz' "
        );
    }

    #[test]
    fn unknown_command_truncates_like_redis() {
        let name = [b'n'; 200];
        let long = [b'a'; 200];
        let text = unknown_command(&name, [&long[..], b"never"]);
        let expected = format!(
            "ERR unknown command '{}', with args beginning with: '{}' ",
            "n".repeat(128),
            "a".repeat(128)
        );
        assert_eq!(text, expected);

        // 'x' ' is 4 bytes: after 32 short args the tail holds 128 bytes.
        let args: Vec<&[u8]> = vec![b"x"; 40];
        let text = unknown_command(b"c", args.iter().copied());
        assert_eq!(text.matches("'x'").count(), 32);

        // The precision shrinks with what is already written.
        // `'a..a' ` is 123 bytes, so the next argument gets 5.
        let text = unknown_command(b"c", [&[b'a'; 120][..], &[b'b'; 50]]);
        assert!(
            text.ends_with(&format!("a' '{}' ", "b".repeat(5))),
            "{text}"
        );
    }

    #[test]
    fn unknown_command_stops_at_nul_and_replaces_newlines() {
        assert_eq!(
            unknown_command(b"f\no\0zz", [&b"a\0b"[..], b"\r\n"]),
            "ERR unknown command 'f o', with args beginning with: 'a' '  ' "
        );
    }

    #[test]
    fn unknown_subcommand_upper_cases_the_container() {
        assert_eq!(
            unknown_subcommand(b"client", b"foo"),
            "ERR unknown subcommand 'foo'. Try CLIENT HELP."
        );
        assert_eq!(
            subcommand_syntax(b"object", b"x"),
            "ERR unknown subcommand or wrong number of arguments for 'x'. Try OBJECT HELP."
        );
    }

    #[test]
    fn arity_error_names_subcommands_with_a_pipe() {
        assert_eq!(
            wrong_number_of_arguments("get"),
            "ERR wrong number of arguments for 'get' command"
        );
        assert_eq!(
            wrong_number_of_arguments("client|setname"),
            "ERR wrong number of arguments for 'client|setname' command"
        );
        assert_eq!(
            invalid_expire_time("set"),
            "ERR invalid expire time in 'set' command"
        );
    }

    #[test]
    fn formatted_errors_trim_then_replace_newlines() {
        assert_eq!(unsupported_option(b"ab\r\n"), "ERR Unsupported option ab");
        assert_eq!(
            config_set_unknown(b"a\nb"),
            "ERR Unknown option or number of arguments for CONFIG SET - 'a b'"
        );
        assert_eq!(
            config_set_failed(b"maxmemory", CONFIG_REASON_NOT_MEMORY),
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"
        );
    }

    #[test]
    fn exec_abort_drops_err_but_keeps_other_codes() {
        assert_eq!(
            exec_abort_because(NOAUTH),
            "EXECABORT Transaction discarded because of: NOAUTH Authentication required."
        );
        assert_eq!(
            exec_abort_because(&wrong_number_of_arguments("exec")),
            "EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command"
        );
    }

    #[test]
    fn expected_dollar_echoes_the_byte() {
        assert_eq!(
            protocol_expected_dollar(b'x'),
            "ERR Protocol error: expected '$', got 'x'"
        );
        assert_eq!(
            protocol_expected_dollar(b'\r'),
            "ERR Protocol error: expected '$', got ' '"
        );
        assert_eq!(
            protocol_expected_dollar(0),
            "ERR Protocol error: expected '$', got '"
        );
    }

    #[test]
    fn error_code_is_the_first_word() {
        assert_eq!(error_code(NOAUTH), "NOAUTH");
        assert_eq!(error_code(EXECABORT), "EXECABORT");
        assert_eq!(error_code(""), "ERR");
        let long = format!("{} x", "A".repeat(40));
        assert_eq!(error_code(&long), "ERR");
        let edge = format!("{} x", "A".repeat(30));
        assert_eq!(error_code(&edge), "A".repeat(30));
    }

    #[test]
    fn no_text_contains_newlines() {
        for text in [
            unknown_command(b"\r\n", [&b"\n"[..]]),
            unknown_subcommand(b"a\rb", b"\n"),
            hello_syntax(b"x\ny"),
            client_setinfo_invalid(b"lib\r\nname"),
        ] {
            assert!(!text.contains('\r') && !text.contains('\n'), "{text:?}");
        }
    }
}
