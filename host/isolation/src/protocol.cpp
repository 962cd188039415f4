#include "reglo/isolation/protocol.h"

#include <errno.h>
#include <fmt/format.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace reglo::isolation::protocol {
namespace {

constexpr size_t kHeaderBytes = 4;
constexpr size_t kReadChunk = 64 * 1024;

void PutLe(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

uint64_t GetLe(const char* in, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) {
    value |= static_cast<uint64_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  }
  return value;
}

size_t OptStrSize(const char* value) {
  return value == nullptr ? 1 : 1 + 4 + std::strlen(value);
}

}  // namespace

Encoder& Encoder::U8(uint8_t v) {
  bytes_.push_back(static_cast<char>(v));
  return *this;
}
Encoder& Encoder::U16(uint16_t v) {
  PutLe(bytes_, v, 2);
  return *this;
}
Encoder& Encoder::U32(uint32_t v) {
  PutLe(bytes_, v, 4);
  return *this;
}
Encoder& Encoder::U64(uint64_t v) {
  PutLe(bytes_, v, 8);
  return *this;
}
Encoder& Encoder::Str(std::string_view v) {
  U32(static_cast<uint32_t>(v.size()));
  bytes_.append(v);
  return *this;
}
Encoder& Encoder::OptStr(const char* v, size_t len) {
  if (v == nullptr) return U8(0);
  U8(1);
  return Str(std::string_view(v, len));
}
Encoder& Encoder::OptStr(const std::optional<std::string>& v) {
  return v ? OptStr(v->data(), v->size()) : U8(0);
}
Encoder& Encoder::StatusValue(const Status& status) {
  U8(static_cast<uint8_t>(status.code()));
  return Str(status.message());
}

Encoder& Encoder::Record(const reglo_record& r) {
  auto text = [this](const char* value) { return OptStr(value, value ? std::strlen(value) : 0); };
  U8(static_cast<uint8_t>(r.operation));
  text(r.entity);
  text(r.external_id);
  text(r.source_updated_at);
  text(r.origin);
  U32(static_cast<uint32_t>(r.field_count));
  for (size_t i = 0; i < r.field_count; ++i) {
    text(r.fields[i].name);
    OptStr(r.fields[i].value, r.fields[i].value_len);
  }
  return *this;
}

size_t EncodedRecordSize(const reglo_record& r) {
  size_t size = 1 + OptStrSize(r.entity) + OptStrSize(r.external_id) +
                OptStrSize(r.source_updated_at) + OptStrSize(r.origin) + 4;
  for (size_t i = 0; i < r.field_count; ++i) {
    size += OptStrSize(r.fields[i].name);
    size += r.fields[i].value == nullptr ? 1 : 1 + 4 + r.fields[i].value_len;
  }
  return size;
}

Encoder& Encoder::Info(const plugin_host::PluginInfo& info) {
  Str(info.name).Str(info.version).Str(info.vendor).Str(info.description);
  U32(static_cast<uint32_t>(info.entities.size()));
  for (const std::string& entity : info.entities) Str(entity);
  Str(info.config_schema_json).Str(info.path.string());
  U16(static_cast<uint16_t>(info.abi_major)).U16(static_cast<uint16_t>(info.abi_minor));
  return U8(info.has_push_changes ? 1 : 0);
}

void Decoder::Fail(std::string reason) {
  if (ok_) error_ = std::move(reason);
  ok_ = false;
}

std::string Decoder::error() const {
  if (!ok_) return error_;
  return rest_.empty() ? std::string() : fmt::format("{} trailing bytes", rest_.size());
}

bool Decoder::Take(size_t n, std::string_view& out) {
  if (!ok_) return false;
  if (rest_.size() < n) {
    Fail(fmt::format("a value of {} bytes where {} are left", n, rest_.size()));
    return false;
  }
  out = rest_.substr(0, n);
  rest_.remove_prefix(n);
  return true;
}

uint8_t Decoder::U8() {
  std::string_view b;
  return Take(1, b) ? static_cast<uint8_t>(b[0]) : 0;
}
uint16_t Decoder::U16() {
  std::string_view b;
  return Take(2, b) ? static_cast<uint16_t>(GetLe(b.data(), 2)) : 0;
}
uint32_t Decoder::U32() {
  std::string_view b;
  return Take(4, b) ? static_cast<uint32_t>(GetLe(b.data(), 4)) : 0;
}
uint64_t Decoder::U64() {
  std::string_view b;
  return Take(8, b) ? GetLe(b.data(), 8) : 0;
}
std::string_view Decoder::Str() {
  const uint32_t size = U32();
  std::string_view b;
  return Take(size, b) ? b : std::string_view();
}
uint32_t Decoder::Count(size_t min_item_bytes, uint32_t max) {
  const uint32_t count = U32();
  if (!ok_) return 0;
  if (count > max) {
    Fail(fmt::format("a count of {} (at most {})", count, max));
    return 0;
  }
  if (min_item_bytes > 0 && count > rest_.size() / min_item_bytes) {
    Fail(fmt::format("a count of {} in {} bytes", count, rest_.size()));
    return 0;
  }
  return count;
}

bool Decoder::OptStr(std::string& out) {
  const uint8_t present = U8();
  if (present > 1) Fail(fmt::format("a presence byte of {}", present));
  if (present != 1) return false;
  out.assign(Str());
  return ok_;
}
Status Decoder::StatusValue() {
  const uint8_t code = U8();
  std::string message(Str());
  if (code > static_cast<uint8_t>(StatusCode::kCancelled)) {
    Fail(fmt::format("a status code of {}", code));
    return Status::Internal("undecodable status");
  }
  if (code == 0) return Status::Ok();
  return Status(static_cast<StatusCode>(code), std::move(message));
}

plugin_host::PluginInfo Decoder::Info() {
  plugin_host::PluginInfo info;
  info.name = Str();
  info.version = Str();
  info.vendor = Str();
  info.description = Str();
  const uint32_t n = Count(/*a u32 length each*/ 4, kMaxListEntries);
  info.entities.reserve(n);
  for (uint32_t i = 0; i < n && ok_; ++i) info.entities.emplace_back(Str());
  info.config_schema_json = Str();
  info.path = std::string(Str());
  info.abi_major = U16();
  info.abi_minor = U16();
  info.has_push_changes = U8() != 0;
  return info;
}

std::optional<reglo_operation> OperationFromWire(uint8_t value) {
  if (value > REGLO_OP_LAST) return std::nullopt;
  return static_cast<reglo_operation>(value);
}

std::optional<reglo_log_level> LogLevelFromWire(uint8_t value) {
  if (value > REGLO_LOG_LAST) return std::nullopt;
  return static_cast<reglo_log_level>(value);
}

bool OwnedRecord::Decode(Decoder& in) {
  auto text = [&in](Text& t) { t.present = in.OptStr(t.value); };
  const uint8_t wire_operation = in.U8();
  const std::optional<reglo_operation> operation = OperationFromWire(wire_operation);
  if (in.ok() && !operation) in.Fail(fmt::format("an operation of {}", wire_operation));
  text(entity_);
  text(external_id_);
  text(source_updated_at_);
  text(origin_);
  // A field is at least two presence bytes (name and value absent).
  const uint32_t count = in.Count(2, kMaxRecordFields);
  if (!in.ok()) return false;
  if (names_.size() < count) {
    names_.resize(count);
    values_.resize(count);
  }
  fields_.resize(count);
  for (uint32_t i = 0; i < count && in.ok(); ++i) {
    text(names_[i]);
    text(values_[i]);
  }
  if (!in.ok()) return false;
  // The record crosses on as C strings: a NUL inside one would cut it, so two different external
  // ids ("A\0x", "A\0y") or field names would silently become one. Values carry their length.
  const auto holds_nul = [](const Text& t) {
    return t.present && t.value.find('\0') != std::string::npos;
  };
  if (holds_nul(entity_) || holds_nul(external_id_) || holds_nul(source_updated_at_) ||
      holds_nul(origin_)) {
    in.Fail("a NUL inside the entity, external id, sourceUpdatedAt or origin");
    return false;
  }
  for (uint32_t i = 0; i < count; ++i) {
    if (holds_nul(names_[i])) {
      in.Fail(fmt::format("a NUL inside the name of field {}", i));
      return false;
    }
  }
  for (uint32_t i = 0; i < count; ++i) {
    fields_[i].name = names_[i].get();
    fields_[i].value = values_[i].present ? values_[i].value.data() : nullptr;
    fields_[i].value_len = values_[i].present ? values_[i].value.size() : 0;
  }
  record_ = reglo_record{};
  record_.struct_size = sizeof(reglo_record);
  record_.operation = *operation;
  record_.entity = entity_.get();
  record_.external_id = external_id_.get();
  record_.source_updated_at = source_updated_at_.get();
  record_.fields = fields_.data();
  record_.field_count = count;
  record_.origin = origin_.get();
  return true;
}

Result<ReadOutcome> FrameReader::Next(Frame& frame, int timeout_ms) {
  for (;;) {
    size_t need = kHeaderBytes;  // bytes of the frame at start_ known to be needed
    if (end_ - start_ >= kHeaderBytes) {
      const uint64_t length = GetLe(buffer_.data() + start_, 4);
      if (length == 0 || length > kMaxFrameBytes) {
        return Status::Internal(fmt::format("a frame of {} bytes (the protocol allows 1 to {})",
                                            length, kMaxFrameBytes));
      }
      need = kHeaderBytes + length;
      if (end_ - start_ >= need) {
        frame.type = static_cast<Type>(static_cast<uint8_t>(buffer_[start_ + kHeaderBytes]));
        frame.body = std::string_view(buffer_.data() + start_ + kHeaderBytes + 1, length - 1);
        start_ += need;
        return ReadOutcome::kFrame;
      }
    }
    if (start_ == end_) {
      start_ = end_ = 0;
      if (buffer_.size() > 4 * kReadChunk) std::string().swap(buffer_);  // after a huge frame
    }
    const size_t want = std::max(need, kReadChunk);  // the whole frame, and some read-ahead
    if (buffer_.size() - start_ < want) {
      buffer_.erase(0, start_);
      end_ -= start_;
      start_ = 0;
      if (buffer_.size() < want) buffer_.resize(want);
    }
    if (timeout_ms >= 0) {
      pollfd p{fd_, POLLIN, 0};
      const int ready = ::poll(&p, 1, timeout_ms);
      if (ready < 0 && errno != EINTR) {
        return Status::IoError(fmt::format("poll: {}", ::strerror(errno)));
      }
      if (ready <= 0) return ReadOutcome::kTimedOut;
    }
    const ssize_t got = ::read(fd_, buffer_.data() + end_, buffer_.size() - end_);
    if (got < 0) {
      if (errno == EINTR) continue;
      return Status::IoError(fmt::format("read: {}", ::strerror(errno)));
    }
    if (got == 0) return ReadOutcome::kPeerClosed;
    end_ += static_cast<size_t>(got);
  }
}

Status FrameWriter::Append(Type type, std::string_view body) {
  if (body.size() + 1 > kMaxFrameBytes) {
    return Status::InvalidArgument(fmt::format("a frame of {} bytes is over the protocol's {}",
                                               body.size() + 1, kMaxFrameBytes));
  }
  PutLe(pending_, body.size() + 1, 4);
  pending_.push_back(static_cast<char>(type));
  pending_.append(body);
  return Status::Ok();
}

Status FrameWriter::Flush() {
  size_t written = 0;
  while (written < pending_.size()) {
    // send() with MSG_NOSIGNAL: a peer that is gone is an EPIPE here, never a SIGPIPE that would
    // end the hub. (A pipe or file, as in tests, is written with write().)
    ssize_t n = ::send(fd_, pending_.data() + written, pending_.size() - written, MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK) {
      n = ::write(fd_, pending_.data() + written, pending_.size() - written);
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      pending_.clear();
      return Status::IoError(fmt::format("write: {}", ::strerror(error)));
    }
    written += static_cast<size_t>(n);
  }
  pending_.clear();
  if (pending_.capacity() > 4 * kReadChunk) pending_.shrink_to_fit();
  return Status::Ok();
}

std::string SignalName(int signal) {
  const char* abbrev = ::sigabbrev_np(signal);
  return abbrev ? fmt::format("SIG{}", abbrev) : fmt::format("signal {}", signal);
}

}  // namespace reglo::isolation::protocol
