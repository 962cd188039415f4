#include "reglo/engine/plugin_watcher.h"

#include <elf.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <set>

namespace reglo::engine {
namespace {

bool IsCandidate(const std::filesystem::path& path) {
  const std::string name = path.filename().string();
  return !name.empty() && name.front() != '.' && path.extension() == ".so";
}

// A library still being written is shorter than its own headers say: the section header table
// sits at the very end of the file, and every loadable segment must lie within it. Returns "" when
// complete, else why not (a non-ELF file is "complete": dlopen refuses it with its own reason).
std::string ElfIncomplete(const std::filesystem::path& file, uintmax_t size) {
  std::ifstream in(file, std::ios::binary);
  Elf64_Ehdr header{};
  if (!in.read(reinterpret_cast<char*>(&header), sizeof header)) {
    return "shorter than an ELF header";
  }
  if (std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 || header.e_ident[EI_CLASS] != ELFCLASS64) {
    return "";
  }
  const uintmax_t sections_end =
      header.e_shoff + static_cast<uintmax_t>(header.e_shnum) * header.e_shentsize;
  if (sections_end > size) {
    return "incomplete library (" + std::to_string(size) + " of " + std::to_string(sections_end) +
           " bytes)";
  }
  in.seekg(static_cast<std::streamoff>(header.e_phoff));
  for (int i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr segment{};
    if (!in.read(reinterpret_cast<char*>(&segment), sizeof segment)) return "truncated headers";
    if (segment.p_offset + segment.p_filesz > size) return "a segment lies past the end";
  }
  return "";
}

}  // namespace

PluginWatcher::PluginWatcher(std::filesystem::path dir, std::filesystem::path cache_dir,
                             std::chrono::milliseconds settle, const Clock& clock)
    : dir_(std::move(dir)), cache_dir_(std::move(cache_dir)), settle_(settle), clock_(clock) {}

bool PluginWatcher::ReadSignature(const std::filesystem::path& file, Signature& out) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  out.size = static_cast<uintmax_t>(st.st_size);
  out.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  out.inode = st.st_ino;
  return true;
}

bool PluginWatcher::CopyPrivately(const std::filesystem::path& file, const Signature& signature,
                                  std::filesystem::path& copy) {
  std::error_code error;
  if (!cache_ready_) {
    // Copies of a previous process are never in use any more.
    std::filesystem::remove_all(cache_dir_, error);
    std::filesystem::create_directories(cache_dir_, error);
    if (error) {
      spdlog::error("plugins: cannot create the private folder {}: {}", cache_dir_.string(),
                    error.message());
      return false;
    }
    cache_ready_ = true;
  }
  copy = cache_dir_ / (file.stem().string() + "." + std::to_string(::getpid()) + "." +
                       std::to_string(++copies_) + ".so");
  std::filesystem::copy_file(file, copy, std::filesystem::copy_options::overwrite_existing, error);
  Signature after;
  // The file must not have changed while it was copied; otherwise wait for it to settle again.
  if (error || !ReadSignature(file, after) || !(after == signature) ||
      std::filesystem::file_size(copy, error) != signature.size) {
    std::filesystem::remove(copy, error);
    return false;
  }
  return true;
}

std::vector<PluginFileEvent> PluginWatcher::Poll(bool initial) {
  std::vector<PluginFileEvent> events;
  const auto now = clock_.Monotonic();
  std::set<std::filesystem::path> present;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, error)) {
    const std::filesystem::path& path = entry.path();
    if (!IsCandidate(path)) continue;
    Signature signature;
    if (!ReadSignature(path, signature)) continue;
    present.insert(path);
    auto [it, inserted] = files_.try_emplace(path);
    Tracked& tracked = it->second;
    if (inserted || !(tracked.seen == signature)) {
      tracked.seen = signature;
      tracked.seen_since = now;
      tracked.reported = false;
    }
    if (tracked.reported) continue;
    // A size of 0 is a file just created by a copy that has not written yet.
    const bool settled = signature.size > 0 && (initial || now - tracked.seen_since >= settle_);
    if (!settled) continue;
    PluginFileEvent event;
    event.file = path;
    if (std::string why = ElfIncomplete(path, signature.size); !why.empty()) {
      // Never dlopen it (a truncated library can load and then crash on a missing page): say
      // so once, and look again when the file changes.
      tracked.reported = true;
      events.push_back({PluginFileEvent::Kind::kIncomplete, path, {}, std::move(why)});
      continue;
    }
    if (!CopyPrivately(path, signature, event.private_copy)) {
      tracked.seen_since = now;  // changed during the copy: wait for it to settle again
      continue;
    }
    tracked.reported = true;
    events.push_back(std::move(event));
  }
  if (error) {
    spdlog::warn("plugins: cannot read the plugins folder {}: {}", dir_.string(), error.message());
    return events;  // a folder that cannot be read says nothing about removals
  }
  for (auto it = files_.begin(); it != files_.end();) {
    if (present.count(it->first)) {
      ++it;
      continue;
    }
    if (it->second.reported) events.push_back({PluginFileEvent::Kind::kRemoved, it->first, {}, {}});
    it = files_.erase(it);
  }
  return events;
}

}  // namespace reglo::engine
