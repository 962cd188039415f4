/*
 * Reglo Hub connector ABI, version 1: the one C contract between the hub and connector plugins.
 * Pure C99 (also valid C++): no C++ types, no exceptions, no STL cross this boundary.
 * Thread-safety: see "Threading contract" below. Memory ownership: see "Ownership" below.
 *
 * Versioning
 *   - A plugin exports exactly one symbol, REGLO_CONNECTOR_ENTRY_SYMBOL, of type
 * reglo_connector_entry_fn.
 *   - The host calls it with the ABI version it speaks (reglo_host_info: major and minor). A plugin
 * that cannot serve that version (another major, or a host minor below the one it needs) returns
 * REGLO_INCOMPATIBLE, and may still set *out_descriptor so the host can name the plugin's version
 * (the host then reads only struct_size, abi_major and abi_minor); otherwise it returns REGLO_OK
 * and its descriptor, whose abi_minor is the minor the plugin was compiled against.
 *   - Every struct starts with `struct_size` (sizeof as compiled by its producer). Structs only
 * grow at the end; a reader reads a member only when REGLO_HAS_MEMBER says struct_size covers it
 * (a member past struct_size does not exist: treat it as 0/NULL).
 *   - The host refuses a descriptor whose abi_major differs from its own, with a message naming
 * both. It accepts a newer minor: the plugin saw the host's minor in reglo_host_info and chose to
 * run, and the host reads none of the newer members.
 *   - Status codes, log levels and operations are int32_t codes, not C enums, so a value added by a
 * newer peer is an ordinary integer to an older one: every reader checks it against the codes it
 * knows and handles the others explicitly (an unknown status fails the call, naming the code).
 *
 * Ownership
 *   - Strings and structs the host passes to a plugin are borrowed for the duration of that call.
 *   - Strings and structs a plugin passes to a host callback are borrowed for the duration of that
 *     callback; the host copies what it keeps.
 *   - The descriptor (and everything it points to) is owned by the plugin and must stay valid and
 *     unchanged until the library is unloaded.
 *   - An instance is owned by the plugin from create() until the host calls destroy() exactly once.
 *
 * Threading contract
 *   - The host never calls into one instance from two threads at once.
 *   - It does call one instance re-entrantly on the same thread: map_to_canonical is called from
 * inside the plugin's emit_record callback while pull_changes of the same instance is on the stack
 * (the hub maps each record as it arrives). A plugin must not hold a non-recursive lock across a
 * pull that map_to_canonical also takes: that deadlocks.
 *   - Different instances of one plugin may be called concurrently from different threads, so a
 * plugin must guard any state shared between instances.
 *   - Callbacks (emitter, sink, context) must be called only on the thread that made the call into
 * the plugin, and only before that call returns. Host callbacks never unwind (no exception leaves
 * them): a failure on the host's side comes back as a status or ends the call with a reason.
 */
#ifndef REGLO_CONNECTOR_H_
#define REGLO_CONNECTOR_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define REGLO_ABI_VERSION_MAJOR 1
#define REGLO_ABI_VERSION_MINOR 0

/* The single exported entry point of every connector library. */
#define REGLO_CONNECTOR_ENTRY_SYMBOL "reglo_connector_entry"

/*
 * True when the struct at `struct_ptr` (of C type `type`, starting with struct_size) is large
 * enough to hold `member`: check it before reading any member a peer built against an older minor
 * may not have. False for a NULL pointer.
 */
#define REGLO_HAS_MEMBER(struct_ptr, type, member)              \
  ((struct_ptr) != NULL && (size_t)(struct_ptr)->struct_size >= \
                               offsetof(type, member) + sizeof(((const type*)NULL)->member))

/*
 * Result of every plugin function. The category decides what the host does next. An int32_t, not
 * an enum: a code this header does not define is possible (from a newer peer) and must be handled.
 */
typedef int32_t reglo_status;
#define REGLO_OK ((reglo_status)0)
#define REGLO_RETRY ((reglo_status)1)        /* transient: the host retries with backoff */
#define REGLO_RATE_LIMITED ((reglo_status)2) /* transient: retry after set_retry_after's delay */
#define REGLO_AUTH_ERROR ((reglo_status)3)   /* credentials refused: never retried automatically */
#define REGLO_CONFIG_ERROR ((reglo_status)4) /* configuration wrong: never retried either */
#define REGLO_FATAL ((reglo_status)5)        /* anything else that cannot succeed by retrying */
#define REGLO_INCOMPATIBLE ((reglo_status)6) /* entry point only: cannot speak the host's ABI */
#define REGLO_STATUS_LAST REGLO_INCOMPATIBLE /* the highest code of this minor */

/* Severity of a log line; a reader shows an unknown level as INFO. */
typedef int32_t reglo_log_level;
#define REGLO_LOG_DEBUG ((reglo_log_level)0)
#define REGLO_LOG_INFO ((reglo_log_level)1)
#define REGLO_LOG_WARN ((reglo_log_level)2)
#define REGLO_LOG_ERROR ((reglo_log_level)3)
#define REGLO_LOG_LAST REGLO_LOG_ERROR

/* What a record asks of the hub. Only UPSERT is processed in V1; DELETE is reserved. The host
 * refuses a record with an operation it does not know. */
typedef int32_t reglo_operation;
#define REGLO_OP_UPSERT ((reglo_operation)0)
#define REGLO_OP_DELETE ((reglo_operation)1)
#define REGLO_OP_LAST REGLO_OP_DELETE

/* One named value. Values are UTF-8 text; `value == NULL` means "absent", "" means empty. */
typedef struct reglo_field {
  const char* name;
  const char* value;
  size_t value_len; /* bytes in value, which need not be NUL-terminated */
} reglo_field;

/*
 * A record as emitted by pull_changes (source-shaped, named as in the source system) or by
 * map_to_canonical (canonical-shaped: entity and field names of the Reglo canonical model).
 */
typedef struct reglo_record {
  uint32_t struct_size;
  reglo_operation operation;
  const char* entity;            /* source entity or canonical entity name, e.g. "student" */
  const char* external_id;       /* the record's id in the source system */
  const char* source_updated_at; /* ISO 8601 time of the last change at the source, or NULL */
  const reglo_field* fields;
  size_t field_count;
  const char* origin; /* where the record came from, for messages ("students.csv:42"), or NULL */
} reglo_record;

/*
 * Per-call services of the host. Passed to every plugin function; valid only during that call.
 */
typedef struct reglo_context {
  uint32_t struct_size;
  void* host_data;
  /* Logs a line into the run log. The host masks personal data it recognises, but plugins must not
   * log record values. */
  void (*log)(void* host_data, reglo_log_level level, const char* message);
  /* Explains the status the current call is about to return. Last call wins. */
  void (*set_error)(void* host_data, const char* message);
  /* With REGLO_RATE_LIMITED: how long the host should wait before calling again. */
  void (*set_retry_after)(void* host_data, uint32_t milliseconds);
} reglo_context;

/* Where pull_changes delivers its output. */
typedef struct reglo_emitter {
  uint32_t struct_size;
  void* host_data;
  /* Hands one source record to the host, which copies it. A non-OK answer means the host will not
   * take more records in this pull: the plugin should return that status promptly. The host may
   * call map_to_canonical of the same instance before this returns (see Threading contract). */
  reglo_status (*emit_record)(void* host_data, const reglo_record* record);
  /* Marks that every record emitted so far is covered by `cursor`: the host commits them together
   * with the cursor, and a later pull may start from it. `record_count` counts records emitted
   * since the previous checkpoint, as a consistency check. */
  reglo_status (*emit_checkpoint)(void* host_data, const char* cursor, uint64_t record_count);
  /* A problem with one piece of source data (a broken row) that did not stop the pull. */
  void (*emit_warning)(void* host_data, const char* origin, const char* message);
  /* Non-zero when the host wants the pull to stop (shutdown, watchdog); the plugin returns
   * REGLO_RETRY at its next convenient point. */
  int (*should_stop)(void* host_data);
} reglo_emitter;

/* Where map_to_canonical delivers canonical records (zero, one or several per source record). */
typedef struct reglo_record_sink {
  uint32_t struct_size;
  void* host_data;
  reglo_status (*emit)(void* host_data, const reglo_record* canonical);
} reglo_record_sink;

/* Receives the names of the streams an instance can pull (typically one per entity). */
typedef struct reglo_stream_sink {
  uint32_t struct_size;
  void* host_data;
  void (*add)(void* host_data, const char* stream);
} reglo_stream_sink;

typedef struct reglo_connector_descriptor {
  uint32_t struct_size;
  uint16_t abi_major;
  uint16_t abi_minor;
  const char* name;    /* [a-z0-9_-]+, unique among loaded plugins, e.g. "csv" */
  const char* version; /* the plugin's own version, e.g. "1.2.0" */
  const char* vendor;
  const char* description;
  const char* const* entities; /* canonical entities this connector produces */
  size_t entity_count;
  /* JSON Schema (draft 2020-12) of the instance configuration. Secret properties carry
   * "x-reglo-secret": true so the hub never shows or logs them. */
  const char* config_schema_json;

  /* Makes an instance for one source from its JSON configuration. */
  reglo_status (*create)(const reglo_context* ctx, const char* config_json, void** out_instance);
  /* Frees an instance. Never fails. */
  void (*destroy)(void* instance);
  /* Checks credentials against the source system. */
  reglo_status (*authenticate)(void* instance, const reglo_context* ctx);
  /* Cheap check that the source system is reachable and usable. */
  reglo_status (*health_check)(void* instance, const reglo_context* ctx);
  /* Lists the streams this instance can pull. */
  reglo_status (*list_streams)(void* instance, const reglo_context* ctx,
                               const reglo_stream_sink* sink);
  /* Emits every change of `stream` after `since_cursor` (NULL: from the beginning). */
  reglo_status (*pull_changes)(void* instance, const reglo_context* ctx, const char* stream,
                               const char* since_cursor, const reglo_emitter* emitter);
  /* Maps one source record (as emitted by pull_changes) to canonical records. Called from inside
   * emit_record while pull_changes is on the stack, as well as on its own. */
  reglo_status (*map_to_canonical)(void* instance, const reglo_context* ctx,
                                   const reglo_record* source_record,
                                   const reglo_record_sink* sink);
  /* Reserved for writing back to the source system; must be NULL in ABI 1.0. */
  reglo_status (*push_changes)(void* instance, const reglo_context* ctx, const void* reserved);
} reglo_connector_descriptor;

/* What the host tells the entry point about itself. */
typedef struct reglo_host_info {
  uint32_t struct_size;
  uint16_t abi_major;
  uint16_t abi_minor;
  const char* host_version;
} reglo_host_info;

/* The entry point. On REGLO_OK, *out_descriptor points at the plugin's static descriptor; on
 * REGLO_INCOMPATIBLE it may (see Versioning). */
typedef reglo_status (*reglo_connector_entry_fn)(const reglo_host_info* host,
                                                 const reglo_connector_descriptor** out_descriptor);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* REGLO_CONNECTOR_H_ */
