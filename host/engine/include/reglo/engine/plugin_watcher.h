// PluginWatcher: notices plugin libraries added to, replaced in or removed from the plugins folder,
// by polling it (one readdir + stat per file) at the times the Engine chooses from its Clock.
// Why polling rather than inotify or Poco's DirectoryWatcher: an event only says "something
// happened"; deciding that a library is complete still needs a stability check (size, mtime and
// inode unchanged for a settle time), which copy-then-rename, in-place copies and slow network
// copies all pass through the same way. Polling every couple of seconds costs nothing measurable,
// works on every file system (NFS, overlay) and is driven by the fake clock in tests.
// A stable file is copied to a private folder under a unique name and that copy is what gets
// loaded: a file replaced later never changes under a loaded library, and dlopen never returns a
// cached handle of an older version (the copy has a new path and inode).
// Hidden files (".x.so") are ignored (copies in progress), and a file shorter than its own ELF
// headers say is never loaded (reported kIncomplete), however long it has been stable.
// Thread-safety: not thread-safe; the Engine calls it from its control thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "reglo/core/clock.h"

namespace reglo::engine {

struct PluginFileEvent {
  // kIncomplete: stable, but shorter than its ELF headers say (a copy that stopped half-way).
  enum class Kind { kReady, kRemoved, kIncomplete };
  Kind kind = Kind::kReady;
  std::filesystem::path file;          // in the watched folder
  std::filesystem::path private_copy;  // kReady: the copy to load
  std::string problem;                 // kIncomplete: what is wrong
};

class PluginWatcher {
 public:
  // `cache_dir` receives the private copies (created, and emptied of old copies, at first Poll).
  PluginWatcher(std::filesystem::path dir, std::filesystem::path cache_dir,
                std::chrono::milliseconds settle, const Clock& clock);

  // Scans the folder. A file is reported kReady once its signature has been unchanged for the
  // settle time (or at once when `initial`: files present at start-up are complete), and again
  // whenever it changes and settles anew; kRemoved when it disappears.
  std::vector<PluginFileEvent> Poll(bool initial = false);

 private:
  struct Signature {
    uintmax_t size = 0;
    int64_t mtime_ns = 0;
    ino_t inode = 0;
    bool operator==(const Signature&) const = default;
  };
  struct Tracked {
    Signature seen;
    std::chrono::steady_clock::time_point seen_since;
    bool reported = false;  // `seen` was reported kReady
  };
  static bool ReadSignature(const std::filesystem::path& file, Signature& out);
  bool CopyPrivately(const std::filesystem::path& file, const Signature& signature,
                     std::filesystem::path& copy);

  std::filesystem::path dir_;
  std::filesystem::path cache_dir_;
  std::chrono::milliseconds settle_;
  const Clock& clock_;
  bool cache_ready_ = false;
  uint64_t copies_ = 0;
  std::map<std::filesystem::path, Tracked> files_;
};

}  // namespace reglo::engine
