// The framed protocol between the hub and a reglo-connector-runner child (process isolation): the
// frame format, message types, the binary codec of their bodies and buffered frame I/O on pipes.
// Plain values and single-owner readers/writers: one thread uses a FrameReader/FrameWriter at a
// time.
//
// Wire format: every frame is [u32 length, little endian][u8 type][body], where length counts the
// type byte and the body and is at most kMaxFrameBytes. The child speaks first with kHello (magic,
// protocol version); the hub refuses another major version. Then the hub sends one request at a
// time and reads frames until the request's reply; during a pull the child streams records,
// checkpoints, warnings, logs and should_stop polls, and the hub may send kStop and kRefuse.
#pragma once

#include <reglo/connector.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reglo/core/status.h"
#include "reglo/plugin_host/plugin.h"

namespace reglo::isolation::protocol {

inline constexpr uint32_t kMagic = 0x52474c52;  // "RGLR"
inline constexpr uint16_t kVersionMajor = 1;
inline constexpr uint16_t kVersionMinor = 0;
// The largest frame either side sends or accepts; a record must fit in one frame.
inline constexpr uint32_t kMaxFrameBytes = 64u << 20;
// The most fields a record may carry: a decoded field costs the hub ~100 bytes of bookkeeping
// beyond its bytes, so a frame of 32 million empty fields would cost it gigabytes.
inline constexpr uint32_t kMaxRecordFields = 65'536;
// The most names a plugin's list of streams or of entities may hold (each becomes a std::string
// in the hub, 8x the 4 bytes a wire entry needs at least).
inline constexpr uint32_t kMaxListEntries = 4096;
// What the hub holds of the canonical records that precede their source record (kCanonical
// frames before a kRecord): at most this many records and this many bytes; past either, the
// runner is ended and the pull fails with the reason.
inline constexpr size_t kMaxCanonicalPerRecord = 1024;
inline constexpr size_t kMaxCanonicalBytesPerRecord = kMaxFrameBytes;

// Exit codes of the runner that the hub explains.
inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitProtocol = 3;     // the hub sent something it cannot read
inline constexpr int kExitOutOfMemory = 4;  // an allocation failed under the memory limit
inline constexpr int kExitHubGone = 5;      // the hub closed the pipe or died

enum class Type : uint8_t {
  // runner -> hub
  kHello = 1,       // u32 magic, u16 major, u16 minor, u32 max frame bytes
  kResult = 2,      // status, u32 retry_after_ms: the reply to any request but kLoad/kListStreams
  kLoaded = 3,      // plugin info: the reply to kLoad
  kStreams = 4,     // u32 n, n strings: the reply to kListStreams
  kRecord = 5,      // record, u8 mapped, status map_status: a source record, with its mapping
  kCanonical = 6,   // record: a canonical record of the next kRecord, or of a kMap
  kCheckpoint = 7,  // string cursor, u64 record_count
  kWarning = 8,     // string origin, string message
  kLog = 9,         // u8 level, string message
  kPollStop = 10,   // the plugin polled should_stop (at most one per flushed batch)
  // hub -> runner
  kLoad = 64,          // string path
  kCreate = 65,        // string config_json
  kDestroy = 66,       //
  kAuthenticate = 67,  //
  kHealthCheck = 68,   //
  kListStreams = 69,   //
  kPull = 70,          // string stream, optional string cursor, u8 flags (kPull*)
  kMap = 71,           // record
  kStop = 72,          // during a pull: should_stop answers true from now on
  kRefuse = 73,        // during a pull: status; the host takes nothing more (emit answers it)
  kShutdown = 74,      // destroy the instance and exit
  kStopAnswer = 75,    // u8: the answer to a kPollStop in a pull with kPullSynchronousStop
};

// kPull flags.
inline constexpr uint8_t kPullMapRecords = 1;  // map each record as it is emitted (kCanonical)
// should_stop waits for the hub's kStopAnswer (exact, slower); without it the runner answers from
// the last kStop it heard, learning of a stop within a few milliseconds.
inline constexpr uint8_t kPullSynchronousStop = 2;

// Appends values to a frame body.
class Encoder {
 public:
  Encoder& U8(uint8_t v);
  Encoder& U16(uint16_t v);
  Encoder& U32(uint32_t v);
  Encoder& U64(uint64_t v);
  Encoder& Str(std::string_view v);
  Encoder& OptStr(const char* v, size_t len);  // NULL is "absent"
  Encoder& OptStr(const std::optional<std::string>& v);
  Encoder& StatusValue(const Status& status);
  Encoder& Record(const reglo_record& record);
  Encoder& Info(const plugin_host::PluginInfo& info);
  const std::string& bytes() const { return bytes_; }
  void Clear() { bytes_.clear(); }

 private:
  std::string bytes_;
};

// The encoded size of a record (what Encoder::Record appends), computed without encoding it.
size_t EncodedRecordSize(const reglo_record& record);

// Reads values from a frame body; a read past the end or a malformed value makes ok() false and
// error() says what was wrong. The peer may be compromised: every count is checked against the
// bytes left before anything is allocated for it.
class Decoder {
 public:
  explicit Decoder(std::string_view body) : rest_(body) {}
  uint8_t U8();
  uint16_t U16();
  uint32_t U32();
  uint64_t U64();
  std::string_view Str();
  // A u32 count of items that take at least `min_item_bytes` each: 0 (and not ok) when the rest
  // of the body cannot hold that many, or when it is over `max`.
  uint32_t Count(size_t min_item_bytes, uint32_t max = UINT32_MAX);
  // Returns whether the value is present; `out` gets it.
  bool OptStr(std::string& out);
  Status StatusValue();
  plugin_host::PluginInfo Info();
  bool ok() const { return ok_; }
  bool done() const { return ok_ && rest_.empty(); }
  // Why ok() is false ("" while it is true); "trailing bytes" when only done() is false.
  std::string error() const;
  // Marks the body malformed; the first reason is kept.
  void Fail(std::string reason);

 private:
  bool Take(size_t n, std::string_view& out);
  std::string_view rest_;
  bool ok_ = true;
  std::string error_;
};

// The wire values of the C ABI's enums, checked before they are cast: nullopt when out of range.
std::optional<reglo_operation> OperationFromWire(uint8_t value);
std::optional<reglo_log_level> LogLevelFromWire(uint8_t value);

// A decoded record that owns its bytes, with a reglo_record view of them. Reusable: Decode()
// keeps the capacity of earlier records.
class OwnedRecord {
 public:
  // False (with in.error() saying why) on a malformed record: one that runs past the body, has an
  // unknown operation, more than kMaxRecordFields fields, or a NUL inside a member the C ABI
  // passes as a C string (entity, external id, sourceUpdatedAt, origin, field names).
  bool Decode(Decoder& in);
  const reglo_record& view() const { return record_; }

 private:
  struct Text {
    std::string value;
    bool present = false;
    const char* get() const { return present ? value.c_str() : nullptr; }
  };
  Text entity_, external_id_, source_updated_at_, origin_;
  std::vector<Text> names_, values_;
  std::vector<reglo_field> fields_;
  reglo_record record_{};
};

struct Frame {
  Type type{};
  std::string_view body;  // valid until the next Next() of its reader
};

// What one FrameReader::Next() found. kPeerClosed is an orderly end of file, not an error: the
// peer may close when it is done, and each side decides what that means where it reads.
enum class ReadOutcome { kFrame, kTimedOut, kPeerClosed };

// Reads frames from a pipe.
class FrameReader {
 public:
  explicit FrameReader(int fd) : fd_(fd) {}
  // Waits up to `timeout_ms` (-1: forever, 0: no wait) for one frame. An error on a read error or
  // a frame over kMaxFrameBytes; end of file is kPeerClosed (with a partial frame buffered too).
  Result<ReadOutcome> Next(Frame& frame, int timeout_ms);
  // Whether bytes of an unfinished frame are buffered.
  bool has_partial() const { return end_ > start_; }

 private:
  int fd_;
  std::string buffer_;
  size_t start_ = 0;
  size_t end_ = 0;
};

// Writes frames to a pipe, buffering until Flush().
class FrameWriter {
 public:
  explicit FrameWriter(int fd) : fd_(fd) {}
  // Buffers one frame; refuses a frame over kMaxFrameBytes.
  Status Append(Type type, std::string_view body = {});
  Status Flush();
  size_t pending() const { return pending_.size(); }

 private:
  int fd_;
  std::string pending_;
};

// "SIGSEGV" for 11; "signal 77" for a number without a name.
std::string SignalName(int signal);

}  // namespace reglo::isolation::protocol
