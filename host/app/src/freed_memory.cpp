#include "freed_memory.h"

#include <cstddef>

// jemalloc's control interface, declared weak so that a build without jemalloc (the sanitizers'
// allocators) links and finds it null.
extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp, size_t newlen)
    __attribute__((weak));

namespace reglo::app {

void ReturnFreedMemory() {
  if (mallctl == nullptr) return;
  // 4096 is MALLCTL_ARENAS_ALL (jemalloc.h): every arena.
  (void)mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0);
}

}  // namespace reglo::app
