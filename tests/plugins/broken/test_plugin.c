/*
 * A connector written in plain C99 against reglo/connector.h, built several times by the test
 * suite: once as a working "counter" connector (deterministic student records, checkpoints,
 * injected failures) and once per broken variant the plugin host must refuse (selected by -D
 * flags). Each instance is independent; no state is shared between instances.
 * Variants the conformance kit must fail (the host loads them): TEST_RECORD_STRUCT_SIZE (records
 * claim a struct_size too small), TEST_INVALID_UTF8 (a value that is not UTF-8), TEST_IGNORE_STOP
 * (spins forever without polling should_stop), TEST_NO_RESUME (ignores the cursor).
 * Variants that take their process down, for process isolation (tests/isolation):
 * TEST_SEGFAULT_IN_PULL (a real SIGSEGV at record "crash_at"), TEST_ABORT_IN_CREATE,
 * TEST_HUGE_RECORD (a 100 MB value at record "huge_at"), TEST_LEAK (allocates without bound, then
 * writes through the NULL its malloc finally returns), TEST_CRASH_ON_LOAD (a library constructor
 * that crashes), TEST_CRASH_IN_ENTRY (the entry point crashes while describing), and
 * TEST_REPORT_FDS (warns with the list of its open file descriptors).
 * TEST_SLOW_LOAD: the entry point (run by every probe and load) takes up to 10 s: it creates
 * $REGLO_TEST_SLOW_LOAD_DIR/loading, then waits for $REGLO_TEST_SLOW_LOAD_DIR/release.
 * Variants of the ABI's edges (tests/plugin_host, tests/isolation): TEST_UNKNOWN_CODES (answers
 * with a status, log level or operation no ABI 1.x defines, chosen by its configuration),
 * TEST_NEWER_MINOR (built against the next minor: refuses an older host, handing its descriptor
 * over so the host can name the version; with TEST_NEWER_DESCRIPTOR it runs on the older host
 * and its descriptor is larger, as a newer minor's would be), TEST_DESCRIPTOR_SIZE=n (a descriptor
 * of n bytes placed just before an unreadable page: the host must not read past struct_size), and
 * TEST_REENTRANCY (counts map_to_canonical calls made while its pull_changes is on the stack and
 * reports them in a warning at the end of the pull).
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <reglo/connector.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef TEST_SLOW_LOAD
#include <time.h>
#include <unistd.h>
#endif

#ifdef TEST_DESCRIPTOR_SIZE
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#endif

#ifndef TEST_ABI_MAJOR
#define TEST_ABI_MAJOR REGLO_ABI_VERSION_MAJOR
#endif
#ifdef TEST_NEWER_MINOR
#define TEST_ABI_MINOR (REGLO_ABI_VERSION_MINOR + 1)
#else
#define TEST_ABI_MINOR REGLO_ABI_VERSION_MINOR
#endif

typedef struct counter_instance {
  long records;               /* how many student records the source holds */
  long checkpoint_every;      /* records between checkpoints */
  long fail_after_checkpoint; /* 0: never; k: fail with RETRY after the k-th checkpoint */
  long revision;              /* bumps every record's content, to simulate changes */
  long crash_at;              /* TEST_SEGFAULT_IN_PULL: the record index that crashes */
  long huge_at;               /* TEST_HUGE_RECORD: the record index with a 100 MB value */
  long noise_bytes;           /* > 0: log, warn and fail with hostile text this long */
  long log_each_record;       /* non-zero: log a line before each record it emits */
  long unknown_status;        /* TEST_UNKNOWN_CODES, non-zero: pull_changes answers this */
  long unknown_level;         /* TEST_UNKNOWN_CODES, non-zero: logs once with this level */
  long unknown_operation;     /* TEST_UNKNOWN_CODES, non-zero: records carry this operation */
  int pulling;                /* TEST_REENTRANCY: pull_changes is on the stack */
  long maps_inside_pull;      /* TEST_REENTRANCY: map_to_canonical calls made meanwhile */
} counter_instance;

/* Hostile text: `size` letters that end with a forged log line and terminal escapes (a plugin may
 * echo whatever its source holds). The caller frees it. */
static char* hostile_text(long size) {
  static const char tail[] = "\r\n2026-01-01T00:00:00.000 error FORGED\x1b[2J\x1b]0;owned\x07";
  const size_t letters = size > 0 ? (size_t)size : 0;
  char* text = (char*)malloc(letters + sizeof tail);
  if (text == NULL) return NULL;
  memset(text, 'x', letters);
  memcpy(text + letters, tail, sizeof tail);
  return text;
}

/* A real invalid memory access (the compiler cannot see it is NULL, so it cannot turn it into a
 * trap instruction). */
#if defined(TEST_SEGFAULT_IN_PULL) || defined(TEST_CRASH_ON_LOAD) || defined(TEST_CRASH_IN_ENTRY)
static void crash(void) {
  volatile int* volatile nowhere = NULL;
  *nowhere = 1;
}
#endif

#ifdef TEST_SLOW_LOAD
static void slow_load(void) {
  const char* dir = getenv("REGLO_TEST_SLOW_LOAD_DIR");
  char path[4096];
  FILE* mark;
  int waited;
  struct timespec step = {0, 10 * 1000 * 1000};
  if (dir == NULL) return;
  snprintf(path, sizeof path, "%s/loading", dir);
  mark = fopen(path, "w");
  if (mark != NULL) fclose(mark);
  snprintf(path, sizeof path, "%s/release", dir);
  for (waited = 0; waited < 1000 && access(path, F_OK) != 0; ++waited) nanosleep(&step, NULL);
}
#endif

#ifdef TEST_CRASH_ON_LOAD
__attribute__((constructor)) static void crash_on_load(void) {
  crash();
}
#endif

/* Reads `"key": <integer>` from a flat JSON object; returns `fallback` when absent. */
static long config_long(const char* json, const char* key, long fallback) {
  char pattern[64];
  const char* at;
  snprintf(pattern, sizeof pattern, "\"%s\"", key);
  at = json ? strstr(json, pattern) : NULL;
  if (at == NULL) return fallback;
  at = strchr(at + strlen(pattern), ':');
  return at ? strtol(at + 1, NULL, 10) : fallback;
}

static reglo_status counter_create(const reglo_context* ctx, const char* config_json,
                                   void** out_instance) {
#ifdef TEST_ABORT_IN_CREATE
  (void)ctx;
  (void)config_long(config_json, "records", 0);
  (void)out_instance;
  abort();
#elif defined(TEST_CREATE_FAILS)
  (void)config_long(config_json, "records", 0);
  ctx->set_error(ctx->host_data, "option 'records' must be positive");
  *out_instance = NULL;
  return REGLO_CONFIG_ERROR;
#else
  counter_instance* instance = (counter_instance*)calloc(1, sizeof *instance);
  if (instance == NULL) return REGLO_FATAL;
  instance->records = config_long(config_json, "records", 10);
  instance->checkpoint_every = config_long(config_json, "checkpoint_every", 4);
  instance->fail_after_checkpoint = config_long(config_json, "fail_after_checkpoint", 0);
  instance->revision = config_long(config_json, "revision", 1);
  instance->crash_at = config_long(config_json, "crash_at", 6);
  instance->huge_at = config_long(config_json, "huge_at", 3);
  instance->noise_bytes = config_long(config_json, "noise_bytes", 0);
  instance->log_each_record = config_long(config_json, "log_each_record", 0);
  instance->unknown_status = config_long(config_json, "unknown_status", 0);
  instance->unknown_level = config_long(config_json, "unknown_level", 0);
  instance->unknown_operation = config_long(config_json, "unknown_operation", 0);
  if (instance->records < 0 || instance->checkpoint_every <= 0) {
    ctx->set_error(ctx->host_data, "records must be >= 0 and checkpoint_every > 0");
    free(instance);
    return REGLO_CONFIG_ERROR;
  }
  *out_instance = instance;
  return REGLO_OK;
#endif
}

static void counter_destroy(void* instance) {
  free(instance);
}

static reglo_status counter_ok(void* instance, const reglo_context* ctx) {
  (void)instance;
  (void)ctx;
  return REGLO_OK;
}

static reglo_status counter_list_streams(void* instance, const reglo_context* ctx,
                                         const reglo_stream_sink* sink) {
  (void)instance;
  (void)ctx;
  sink->add(sink->host_data, "student");
  return REGLO_OK;
}

static reglo_status counter_pull_records(void* handle, const reglo_context* ctx, const char* stream,
                                         const char* since_cursor, const reglo_emitter* emitter) {
  const counter_instance* instance = (const counter_instance*)handle;
#ifdef TEST_NO_RESUME
  long next = 0;
  (void)since_cursor;
#else
  long next = since_cursor ? strtol(since_cursor, NULL, 10) : 0;
#endif
  long checkpoints = 0;
  long since_checkpoint = 0;
  char external_id[32], first_name[48], email[48], phone[32], cursor[32];
  reglo_field fields[6];
  reglo_record record;
#ifdef TEST_HUGE_RECORD
  char* huge = NULL;
#endif
  (void)stream;
#ifdef TEST_REPORT_FDS
  {
    char list[1024] = "";
    DIR* dir = opendir("/proc/self/fd");
    struct dirent* entry;
    while (dir != NULL && (entry = readdir(dir)) != NULL) {
      if (entry->d_name[0] == '.' || atoi(entry->d_name) == dirfd(dir)) continue;
      if (strlen(list) + strlen(entry->d_name) + 2 >= sizeof list) break;
      strcat(list, " ");
      strcat(list, entry->d_name);
    }
    if (dir != NULL) closedir(dir);
    emitter->emit_warning(emitter->host_data, "fds", list);
  }
#endif
  if (instance->noise_bytes > 0) {
    char* noise = hostile_text(instance->noise_bytes);
    if (noise == NULL) return REGLO_FATAL;
    ctx->log(ctx->host_data, REGLO_LOG_WARN, noise);
    emitter->emit_warning(emitter->host_data, noise, noise);
    ctx->set_error(ctx->host_data, noise);
    free(noise);
    return REGLO_RETRY;
  }
#ifdef TEST_UNKNOWN_CODES
  if (instance->unknown_level != 0) {
    ctx->log(ctx->host_data, (reglo_log_level)instance->unknown_level, "a line from the future");
  }
  if (instance->unknown_status != 0) {
    ctx->set_error(ctx->host_data, "a status from the future");
    return (reglo_status)instance->unknown_status;
  }
#endif
#ifdef TEST_LEAK
  for (;;) {
    /* A vendor's cache that never evicts: 16 MiB more per round, never freed, never checked. */
    char* block = (char*)malloc((size_t)16 << 20);
    memset(block, 1, (size_t)16 << 20);
  }
#endif
  for (; next < instance->records; ++next) {
    if (emitter->should_stop(emitter->host_data)) return REGLO_RETRY;
#ifdef TEST_SEGFAULT_IN_PULL
    if (next == instance->crash_at) crash();
#endif
    snprintf(external_id, sizeof external_id, "S%06ld", next);
    snprintf(first_name, sizeof first_name, "Name%ld-r%ld", next, instance->revision);
    snprintf(email, sizeof email, "s%ld@example.com", next);
    snprintf(phone, sizeof phone, "+39333%07ld", next);
    fields[0].name = "firstName";
    fields[0].value = first_name;
    fields[1].name = "lastName";
    fields[1].value = "Rossi";
    fields[2].name = "fiscalCode";
    fields[2].value = "RSSMRA85T10A562S";
    fields[3].name = "birthDate";
    fields[3].value = "1985-12-10";
    fields[4].name = "email";
    fields[4].value = email;
    fields[5].name = "phone";
    fields[5].value = phone;
#ifdef TEST_INVALID_UTF8
    if (next == 2) fields[0].value = "Nam\xff\xfe"; /* Latin-1 bytes passed through unconverted */
#endif
    {
      int i;
      for (i = 0; i < 6; ++i) fields[i].value_len = strlen(fields[i].value);
    }
#ifdef TEST_HUGE_RECORD
    if (next == instance->huge_at) {
      const size_t size = (size_t)100 << 20;
      huge = (char*)malloc(size);
      if (huge == NULL) return REGLO_FATAL;
      memset(huge, 'x', size);
      fields[1].value = huge;
      fields[1].value_len = size;
    }
#endif
    memset(&record, 0, sizeof record);
#ifdef TEST_RECORD_STRUCT_SIZE
    record.struct_size = 8; /* e.g. a plugin that forgot to set it, or set a field count */
#else
    record.struct_size = sizeof record;
#endif
    record.operation = REGLO_OP_UPSERT;
#ifdef TEST_UNKNOWN_CODES
    if (instance->unknown_operation != 0)
      record.operation = (reglo_operation)instance->unknown_operation;
#endif
    record.entity = "student";
    record.external_id = external_id;
    record.source_updated_at = "2026-01-01T00:00:00Z";
    record.fields = fields;
    record.field_count = 6;
    record.origin = external_id;
#ifdef TEST_HUGE_RECORD
    {
      const reglo_status emitted = emitter->emit_record(emitter->host_data, &record);
      free(huge);
      huge = NULL;
      if (emitted != REGLO_OK) return REGLO_RETRY;
    }
#else
    if (instance->log_each_record) ctx->log(ctx->host_data, REGLO_LOG_DEBUG, "emitting a record");
    if (emitter->emit_record(emitter->host_data, &record) != REGLO_OK) return REGLO_RETRY;
#endif
    ++since_checkpoint;
#ifdef TEST_IGNORE_STOP
    {
      /* A pull stuck in a loop that never polls should_stop (a vendor's retry loop gone wrong). */
      volatile unsigned long spin = 0;
      for (;;) ++spin;
    }
#endif
    if ((next + 1) % instance->checkpoint_every == 0) {
      snprintf(cursor, sizeof cursor, "%ld", next + 1);
      if (emitter->emit_checkpoint(emitter->host_data, cursor, (uint64_t)since_checkpoint) !=
          REGLO_OK) {
        return REGLO_RETRY;
      }
      since_checkpoint = 0;
      ++checkpoints;
    }
    /* Fail one record after the k-th checkpoint, so some uncommitted records are in flight. */
    if (instance->fail_after_checkpoint > 0 && checkpoints == instance->fail_after_checkpoint &&
        since_checkpoint == 1) {
      ctx->set_error(ctx->host_data, "injected failure after a checkpoint");
      return REGLO_RETRY;
    }
  }
  snprintf(cursor, sizeof cursor, "%ld", next);
  return emitter->emit_checkpoint(emitter->host_data, cursor, (uint64_t)since_checkpoint);
}

static reglo_status counter_pull(void* handle, const reglo_context* ctx, const char* stream,
                                 const char* since_cursor, const reglo_emitter* emitter) {
#ifdef TEST_REENTRANCY
  counter_instance* instance = (counter_instance*)handle;
  char report[96];
  reglo_status status;
  instance->pulling = 1;
  instance->maps_inside_pull = 0;
  status = counter_pull_records(handle, ctx, stream, since_cursor, emitter);
  instance->pulling = 0;
  snprintf(report, sizeof report, "map_to_canonical ran %ld times inside pull_changes",
           instance->maps_inside_pull);
  emitter->emit_warning(emitter->host_data, "reentrancy", report);
  return status;
#else
  return counter_pull_records(handle, ctx, stream, since_cursor, emitter);
#endif
}

static reglo_status counter_map(void* handle, const reglo_context* ctx,
                                const reglo_record* source_record, const reglo_record_sink* sink) {
#ifdef TEST_REENTRANCY
  counter_instance* instance = (counter_instance*)handle;
  if (instance->pulling) ++instance->maps_inside_pull;
#else
  (void)handle;
#endif
  (void)ctx;
  return sink->emit(sink->host_data, source_record); /* already canonical-shaped */
}

static const char* const counter_entities[] = {"student"};

/* The descriptor, followed by a member a newer minor might have added (TEST_NEWER_DESCRIPTOR
 * counts it in struct_size; an older host must ignore it). */
typedef struct counter_descriptor_storage {
  reglo_connector_descriptor descriptor;
  void (*from_a_newer_minor)(void);
} counter_descriptor_storage;

#ifdef TEST_NEWER_DESCRIPTOR
#define TEST_DESCRIPTOR_STRUCT_SIZE sizeof(counter_descriptor_storage)
#else
#define TEST_DESCRIPTOR_STRUCT_SIZE sizeof(reglo_connector_descriptor)
#endif

#ifndef TEST_PLUGIN_VERSION
#define TEST_PLUGIN_VERSION "1.0.0"
#endif

static const counter_descriptor_storage counter_storage = {
    {TEST_DESCRIPTOR_STRUCT_SIZE, TEST_ABI_MAJOR, TEST_ABI_MINOR,
#ifdef TEST_NULL_NAME
     NULL,
#else
     TEST_PLUGIN_NAME,
#endif
     TEST_PLUGIN_VERSION, "Reglo tests", "deterministic student records for tests",
     counter_entities, 1,
#ifdef TEST_BAD_SCHEMA
     "{not json",
#else
     "{\"type\":\"object\"}",
#endif
     counter_create, counter_destroy, counter_ok, counter_ok, counter_list_streams, counter_pull,
     counter_map, NULL},
    NULL};
#define counter_descriptor (counter_storage.descriptor)

#ifdef TEST_DESCRIPTOR_SIZE
/* The first TEST_DESCRIPTOR_SIZE bytes of the descriptor, ending where an unreadable page begins:
 * a host that reads a member past struct_size crashes. NULL when the pages cannot be mapped. */
static const reglo_connector_descriptor* truncated_descriptor(void) {
  const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  const int zero = open("/dev/zero", O_RDONLY);
  char* pages;
  reglo_connector_descriptor* truncated;
  if (zero < 0) return NULL;
  pages = (char*)mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE, zero, 0);
  close(zero);
  if (pages == MAP_FAILED || mprotect(pages + page, page, PROT_NONE) != 0) return NULL;
  truncated = (reglo_connector_descriptor*)(void*)(pages + page - TEST_DESCRIPTOR_SIZE);
  memcpy(truncated, &counter_descriptor, TEST_DESCRIPTOR_SIZE);
  truncated->struct_size = TEST_DESCRIPTOR_SIZE;
  return truncated;
}
#endif

#if !defined(TEST_NO_ENTRY) && !defined(TEST_INCOMPATIBLE) && !defined(TEST_DESCRIPTOR_SIZE) && \
    !defined(TEST_NEWER_DESCRIPTOR)
#define TEST_REFUSES_OLDER_HOST
/* Whether the host speaks a minor below `required` (a function: the comparison with this build's
 * minor, 0, would otherwise be "always false" to the compiler). */
static int host_minor_below(const reglo_host_info* host, unsigned required) {
  return !REGLO_HAS_MEMBER(host, reglo_host_info, abi_minor) || host->abi_minor < required;
}
#endif

#ifndef TEST_NO_ENTRY
__attribute__((visibility("default"))) reglo_status reglo_connector_entry(
    const reglo_host_info* host, const reglo_connector_descriptor** out_descriptor) {
#ifdef TEST_INCOMPATIBLE
  (void)host;
  (void)out_descriptor;
  (void)counter_descriptor;
  return REGLO_INCOMPATIBLE;
#else
#ifdef TEST_CRASH_IN_ENTRY
  crash();
#endif
#ifdef TEST_SLOW_LOAD
  slow_load();
#endif
  if (host == NULL || host->abi_major != REGLO_ABI_VERSION_MAJOR) return REGLO_INCOMPATIBLE;
#ifdef TEST_DESCRIPTOR_SIZE
  *out_descriptor = truncated_descriptor();
  return *out_descriptor != NULL ? REGLO_OK : REGLO_FATAL;
#else
  *out_descriptor = &counter_descriptor;
#ifdef TEST_REFUSES_OLDER_HOST
  /* Built against a newer minor than the host's: refuse it, naming this plugin's version. */
  if (host_minor_below(host, TEST_ABI_MINOR)) return REGLO_INCOMPATIBLE;
#endif
  return REGLO_OK;
#endif
#endif
}
#else
/* Exports something, just not the entry point. */
__attribute__((visibility("default"))) size_t not_a_connector(void) {
  return counter_descriptor.struct_size;
}
#endif
