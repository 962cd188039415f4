#include "reglo/agent/spool.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace reglo::agent {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::string_view kSuffix = ".batch";

Status Errno(std::string_view what, const fs::path& path) {
  return Status::IoError(
      fmt::format("spool: {} {}: {}", what, path.string(), std::strerror(errno)));
}

Status SyncDir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return Errno("cannot open folder", dir);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Errno("cannot sync folder", dir);
  return Status::Ok();
}

}  // namespace

Status WriteFileDurably(const fs::path& path, std::string_view contents) {
  const fs::path tmp =
      path.parent_path() / fmt::format(".tmp-{}-{}", ::getpid(), path.filename().string());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("cannot create", tmp);
  size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Status error = Errno("cannot write", tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return error;
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    Status error = Errno("cannot sync", tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return error;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Status error = Errno("cannot rename into", path);
    ::unlink(tmp.c_str());
    return error;
  }
  return SyncDir(path.parent_path());
}

Spool::Spool(fs::path dir, uint64_t max_bytes, int lock_fd)
    : dir_(std::move(dir)), max_bytes_(max_bytes), lock_fd_(lock_fd) {}

Spool::~Spool() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

Result<std::unique_ptr<Spool>> Spool::Open(const fs::path& dir, uint64_t max_bytes) {
  std::error_code error;
  fs::create_directories(dir / "rejected", error);
  if (error) {
    return Status::IoError(
        fmt::format("spool: cannot create {}: {}", dir.string(), error.message()));
  }
  const fs::path lock = dir / ".lock";
  const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("cannot open", lock);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return Status::IoError(fmt::format(
        "spool: {} is in use by another agent (one agent per spool folder)", dir.string()));
  }
  std::unique_ptr<Spool> spool(new Spool(dir, max_bytes, fd));
  REGLO_RETURN_IF_ERROR(spool->Load());
  return spool;
}

Status Spool::Load() {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir_, error)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(".tmp-", 0) == 0) {
      fs::remove(entry.path(), error);  // a batch a crash interrupted before its rename
      continue;
    }
    if (name.size() <= kSuffix.size() || !name.ends_with(kSuffix)) continue;
    const std::string digits = name.substr(0, name.size() - kSuffix.size());
    if (digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const uint64_t sequence = std::stoull(digits);
    std::ifstream in(entry.path(), std::ios::binary);
    std::string header;
    std::getline(in, header);
    const json meta = json::parse(header, nullptr, false);
    if (!meta.is_object() || !meta.contains("source")) {
      return Status::IoError(fmt::format("spool: {} is not a batch file", entry.path().string()));
    }
    const uint64_t size = entry.file_size(error);
    pending_[sequence] = {meta["source"].get<std::string>(), size};
    bytes_ += size;
    next_ = std::max(next_, sequence + 1);
  }
  if (error) {
    return Status::IoError(
        fmt::format("spool: cannot read {}: {}", dir_.string(), error.message()));
  }
  std::ifstream in(dir_ / "cursors.json", std::ios::binary);
  if (in) {
    std::stringstream text;
    text << in.rdbuf();
    const json cursors = json::parse(text.str(), nullptr, false);
    if (cursors.is_array()) {
      for (const json& row : cursors) {
        if (row.is_object() && row.contains("source") && row.contains("stream") &&
            row.contains("cursor")) {
          cursors_[{row["source"].get<std::string>(), row["stream"].get<std::string>()}] =
              row["cursor"].get<std::string>();
        }
      }
    }
  }
  return Status::Ok();
}

fs::path Spool::PathOf(uint64_t sequence) const {
  return dir_ / fmt::format("{:012}{}", sequence, kSuffix);
}

Result<uint64_t> Spool::Add(SpooledBatch batch) {
  json meta = {{"source", batch.source_id},
               {"stream", batch.stream},
               {"requestId", batch.request_id},
               {"cursor", batch.cursor ? json(*batch.cursor) : json(nullptr)}};
  std::string contents = meta.dump();
  contents += '\n';
  contents += batch.body;
  if (!pending_.empty() && bytes_ + contents.size() > max_bytes_) {
    return Status::Retryable(fmt::format("spool full ({} of {} bytes)", bytes_, max_bytes_));
  }
  const uint64_t sequence = next_++;
  REGLO_RETURN_IF_ERROR(WriteFileDurably(PathOf(sequence), contents));
  pending_[sequence] = {batch.source_id, contents.size()};
  bytes_ += contents.size();
  return sequence;
}

std::vector<uint64_t> Spool::Pending() const {
  std::vector<uint64_t> out;
  out.reserve(pending_.size());
  for (const auto& [sequence, entry] : pending_) out.push_back(sequence);
  return out;
}

bool Spool::HasPending(const std::string& source_id) const {
  for (const auto& [sequence, entry] : pending_) {
    if (entry.source_id == source_id) return true;
  }
  return false;
}

Result<SpooledBatch> Spool::Read(uint64_t sequence) const {
  std::ifstream in(PathOf(sequence), std::ios::binary);
  if (!in) return Errno("cannot read", PathOf(sequence));
  std::string header;
  std::getline(in, header);
  const json meta = json::parse(header, nullptr, false);
  if (!meta.is_object()) {
    return Status::IoError(fmt::format("spool: {} is not a batch file", PathOf(sequence).string()));
  }
  SpooledBatch batch;
  batch.sequence = sequence;
  batch.source_id = meta.value("source", "");
  batch.stream = meta.value("stream", "");
  batch.request_id = meta.value("requestId", "");
  if (meta.contains("cursor") && meta["cursor"].is_string()) batch.cursor = meta["cursor"];
  std::stringstream body;
  body << in.rdbuf();
  batch.body = body.str();
  return batch;
}

Status Spool::Remove(uint64_t sequence) {
  auto it = pending_.find(sequence);
  if (it == pending_.end()) return Status::Ok();
  if (::unlink(PathOf(sequence).c_str()) != 0 && errno != ENOENT) {
    return Errno("cannot remove", PathOf(sequence));
  }
  REGLO_RETURN_IF_ERROR(SyncDir(dir_));
  bytes_ -= it->second.bytes;
  pending_.erase(it);
  return Status::Ok();
}

Status Spool::Reject(uint64_t sequence) {
  auto it = pending_.find(sequence);
  if (it == pending_.end()) return Status::Ok();
  const fs::path to = dir_ / "rejected" / PathOf(sequence).filename();
  if (::rename(PathOf(sequence).c_str(), to.c_str()) != 0) return Errno("cannot move", to);
  REGLO_RETURN_IF_ERROR(SyncDir(dir_));
  bytes_ -= it->second.bytes;
  pending_.erase(it);
  return Status::Ok();
}

std::optional<std::string> Spool::Cursor(const std::string& source_id,
                                         const std::string& stream) const {
  auto it = cursors_.find({source_id, stream});
  if (it == cursors_.end()) return std::nullopt;
  return it->second;
}

Status Spool::SetCursor(const std::string& source_id, const std::string& stream,
                        const std::string& cursor) {
  auto previous = cursors_;
  cursors_[{source_id, stream}] = cursor;
  json rows = json::array();
  for (const auto& [key, value] : cursors_) {
    rows.push_back({{"source", key.first}, {"stream", key.second}, {"cursor", value}});
  }
  Status written = WriteFileDurably(dir_ / "cursors.json", rows.dump(1));
  if (!written.ok()) cursors_ = std::move(previous);
  return written;
}

}  // namespace reglo::agent
