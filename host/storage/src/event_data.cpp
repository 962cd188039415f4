// The stored form of outbox event data (event_data.h). A stored value is either the JSON text
// itself (rows written before issue #19, or with REGLO_EVENT_DATA=json: its first byte is '{')
// or one tag byte and a zstd frame compressed with dictionary 1, less the frame's 4-byte magic
// number (the tag says what follows; the stable API only reads whole frames, so it is put back):
//   kTagElided  the data minus its leading {"entity":..,"companyId":..,"sourceSystem":..,
//               "externalId":..,"version":N, which the row's own columns rebuild on read
//   kTagWhole   the whole data (data that does not start that way)
// A ~400-byte event compresses poorly on its own (zstd alone: ~290 B, measured) but well
// against a dictionary of the events' shape (~90 B). The dictionary holds only the shape of the
// canonical events (keys, enum values, common formats), never data: a dictionary trained on a
// store's events would keep fragments of names and e-mails that erasing a subject cannot reach.
// It is part of the stored format: never edit it; a better one gets new tags and this one stays
// to read old rows.
#include "reglo/storage/event_data.h"

#include <zstd.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "reglo/model/events.h"

namespace reglo::storage {
namespace {

constexpr char kTagElided = 0x01;
constexpr char kTagWhole = 0x02;
// ZSTD_MAGICNUMBER as a frame starts with it (little-endian).
constexpr std::string_view kMagic("\x28\xB5\x2F\xFD", 4);
// Far above any event (a record's data is bounded by its fields); a damaged frame header cannot
// make a read allocate more.
constexpr unsigned long long kMaxDecodedSize = 64ull << 20;
// Levels 1 to 3 store within 2 % of each other on student events; 1 is the cheapest.
constexpr int kLevel = 1;

// Dictionary 1 (frozen: see above): tools/event_dictionary/content-1.txt, the shape of every
// canonical entity's created and updated events (zstd finds matches nearer its end more cheaply,
// so student events come last), with entropy tables from synthetic events (reglo-datagen), which
// spare each event building its own: half the CPU of the raw content alone, measured.
constexpr unsigned char kDictionary1[] = {
#include "event_dictionary_1.inc"
};

// Built once, shared read-only by every thread, kept for the life of the process.
const ZSTD_CDict* CompressDictionary() {
  static const ZSTD_CDict* const dictionary =
      ZSTD_createCDict(kDictionary1, sizeof kDictionary1, kLevel);
  return dictionary;
}
const ZSTD_DDict* DecompressDictionary() {
  static const ZSTD_DDict* const dictionary = ZSTD_createDDict(kDictionary1, sizeof kDictionary1);
  return dictionary;
}

struct CCtxFree {
  void operator()(ZSTD_CCtx* ctx) const { ZSTD_freeCCtx(ctx); }
};
struct DCtxFree {
  void operator()(ZSTD_DCtx* ctx) const { ZSTD_freeDCtx(ctx); }
};

// One context per thread, reused: creating one costs more than compressing an event. Frames
// carry neither a checksum nor the dictionary's id (the tag says which dictionary).
ZSTD_CCtx* CompressContext() {
  thread_local const std::unique_ptr<ZSTD_CCtx, CCtxFree> ctx = [] {
    std::unique_ptr<ZSTD_CCtx, CCtxFree> made(ZSTD_createCCtx());
    ZSTD_CCtx_setParameter(made.get(), ZSTD_c_checksumFlag, 0);
    ZSTD_CCtx_setParameter(made.get(), ZSTD_c_dictIDFlag, 0);
    ZSTD_CCtx_refCDict(made.get(), CompressDictionary());
    return made;
  }();
  return ctx.get();
}

ZSTD_DCtx* DecompressContext() {
  thread_local const std::unique_ptr<ZSTD_DCtx, DCtxFree> ctx(ZSTD_createDCtx());
  return ctx.get();
}

bool StoreJsonText() {
  static const bool json = [] {
    const char* value = std::getenv("REGLO_EVENT_DATA");
    return value != nullptr && std::string_view(value) == "json";
  }();
  return json;
}

// Appends what every event's data begins with (model::AppendEventDataHead), rebuilt from the
// event's columns, and its version.
void AppendDataHeader(const model::EventRecord& event, std::string& out) {
  model::AppendEventDataHead(out, event.entity, event.company_id, event.source_system,
                             event.external_id);
  out += std::to_string(event.version);
}

}  // namespace

std::string EncodeEventData(const model::EventRecord& event) {
  if (StoreJsonText()) return event.data;
  thread_local std::string header;
  header.clear();
  AppendDataHeader(event, header);
  const bool elided = std::string_view(event.data).substr(0, header.size()) == header;
  const std::string_view body =
      elided ? std::string_view(event.data).substr(header.size()) : std::string_view(event.data);
  thread_local std::string frame;
  frame.resize(ZSTD_compressBound(body.size()));
  const size_t size =
      ZSTD_compress2(CompressContext(), frame.data(), frame.size(), body.data(), body.size());
  // Compressing into a buffer of ZSTD_compressBound cannot fail but for a lack of memory; the
  // JSON text is then stored as it is, which every reader reads too.
  if (ZSTD_isError(size) || size < kMagic.size()) return event.data;
  std::string stored;
  stored.reserve(1 + size - kMagic.size());
  stored += elided ? kTagElided : kTagWhole;
  stored.append(frame, kMagic.size(), size - kMagic.size());
  return stored;
}

Result<std::string> DecodeEventData(const model::EventRecord& columns, std::string_view stored) {
  if (stored.empty() || (stored[0] != kTagElided && stored[0] != kTagWhole)) {
    return std::string(stored);  // the JSON text itself
  }
  thread_local std::string frame;
  frame.assign(kMagic);
  frame.append(stored.substr(1));
  const unsigned long long content = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (content == ZSTD_CONTENTSIZE_ERROR || content == ZSTD_CONTENTSIZE_UNKNOWN ||
      content > kMaxDecodedSize) {
    return Status::Internal("an outbox event's stored data is damaged (bad frame header)");
  }
  std::string data;
  if (stored[0] == kTagElided) AppendDataHeader(columns, data);
  const size_t prefix = data.size();
  data.resize(prefix + static_cast<size_t>(content));
  const size_t size =
      ZSTD_decompress_usingDDict(DecompressContext(), data.data() + prefix, data.size() - prefix,
                                 frame.data(), frame.size(), DecompressDictionary());
  if (ZSTD_isError(size) || size != content) {
    return Status::Internal("an outbox event's stored data is damaged (bad frame)");
  }
  return data;
}

}  // namespace reglo::storage
