// Gives the pages of memory the process has freed back to the system, when the allocator can:
// jemalloc (linked into reglo-hub, not into sanitizer builds) keeps freed pages for a while
// (dirty_decay_ms), per arena, so what the start-up freed cannot serve the pull threads' arenas
// and counts in the RSS until it decays. Stateless; call from any thread.
#pragma once

namespace reglo::app {

// A no-op when the process does not run on jemalloc.
void ReturnFreedMemory();

}  // namespace reglo::app
