// The hub's side of process isolation (process_connector.cpp over protocol.cpp) reading whatever
// a compromised runner child sends: the input is the runner's whole output stream, played by
// fuzz_runner. The hub starts it, then creates, authenticates, health-checks, lists streams,
// pulls (mapping each record as the pipeline does), maps a record and destroys; each step reads
// the next frames of the script. Whatever the bytes, the hub must end with a status, never crash.
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "abi_record.h"
#include "fuzz_support.h"
#include "reglo/isolation/process_connector.h"

namespace {

using reglo::Status;

class Handler final : public reglo::plugin_host::PullHandler {
 public:
  explicit Handler(reglo::isolation::ProcessConnector& connector) : connector_(connector) {}
  Status OnRecord(const reglo_record& record) override {
    // The pipeline maps every record it gets; the runner sent the mapping along with it.
    return connector_.MapToCanonical(record, [](const reglo_record& canonical) {
      for (size_t i = 0; i < canonical.field_count; ++i) (void)canonical.fields[i].name;
      return Status::Ok();
    });
  }
  Status OnCheckpoint(std::string_view, uint64_t) override { return Status::Ok(); }
  void OnWarning(std::string_view, std::string_view) override {}
  bool ShouldStop() override { return ++polls_ > 3; }

 private:
  reglo::isolation::ProcessConnector& connector_;
  int polls_ = 0;
};

std::string ScriptPath() {
  const char* tmp = std::getenv("TMPDIR");
  return std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/reglo-fuzz-runner-" +
         std::to_string(::getpid());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string script = [] {
    std::string path = ScriptPath();
    ::setenv("REGLO_FUZZ_RUNNER_SCRIPT", path.c_str(), 1);
    std::atexit([] { ::unlink(ScriptPath().c_str()); });
    return path;
  }();
  {
    std::ofstream out(script, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out) reglo::fuzz::MemFile::Fail("cannot write the runner's script");
  }
  reglo::isolation::RunnerOptions options;
  options.runner = REGLO_FUZZ_RUNNER;
  options.memory_limit_mb = 0;
  options.start_timeout = std::chrono::seconds(5);
  options.term_grace = std::chrono::milliseconds(0);
  options.shutdown_timeout = std::chrono::seconds(5);
  auto started = reglo::isolation::ProcessConnector::Start(options, "/fuzz/libplugin.so");
  if (!started.ok()) return 0;
  reglo::isolation::ProcessConnector& connector = **started;
  connector.SetLogCallback([](reglo_log_level, std::string_view) {});
  connector.set_synchronous_stop(size % 2 == 0);
  (void)connector.Create("{}");
  (void)connector.Authenticate();
  (void)connector.HealthCheck();
  (void)connector.ListStreams();
  Handler handler(connector);
  (void)connector.Pull("student", std::string("cursor"), handler);
  reglo_field field{"name", "value", 5};
  const reglo_record record = reglo::testing::AbiRecord("student", "1", &field, 1);
  (void)connector.MapToCanonical(record, [](const reglo_record&) { return Status::Ok(); });
  (void)connector.Destroy();
  return 0;
}
