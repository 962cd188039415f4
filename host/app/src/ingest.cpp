#include "reglo/app/ingest.h"

#include <fmt/format.h>

#include "reglo/app/commands.h"
#include "reglo/app/keys.h"
#include "reglo/http/server.h"
#include "reglo/ingest/ingest_service.h"

namespace reglo::app {

// The config's defaults are the listener's own.
static_assert(ListenerCaps{}.max_connections == http::ConnectionLimits{}.max_connections);
static_assert(ListenerCaps{}.max_connections_per_address ==
              http::ConnectionLimits{}.max_connections_per_address);

http::ConnectionLimits ToConnectionLimits(const ListenerCaps& caps) {
  return http::ConnectionLimits{caps.max_connections, caps.max_connections_per_address};
}

Status ListenerFailure(const HubConfig& config, const std::string& listener, const Status& status) {
  // A port in use stays kIoError (exit 1): a port held by a hub that is stopping is free on the
  // next start, and a supervisor should try again.
  std::string key = listener + ".listen";
  if (listener == "ingest" && config.ingest) {
    const std::string certificate = config.ingest->tls_certificate_file.string();
    const std::string private_key = config.ingest->tls_private_key_file.string();
    if (!certificate.empty() && status.message().find(certificate) != std::string::npos) {
      key = "ingest.tls_certificate_file";
    } else if (!private_key.empty() && status.message().find(private_key) != std::string::npos) {
      key = "ingest.tls_private_key_file";
    }
  }
  return Status(status.code(),
                fmt::format("{} (set by {} in {})", status.message(), key, config.path.string()));
}

Result<IngestListener> StartIngestListener(const HubConfig& config) {
  if (!config.ingest) return Status::ConfigError("ingest: missing");
  const IngestSettings& s = *config.ingest;
  Result<std::filesystem::path> secrets = SecretsFilePath(config);
  if (!secrets.ok()) return secrets.status();
  Result<security::MasterKey> master = security::MasterKey::LoadOrCreate(secrets->string());
  if (!master.ok()) return master.status();

  ingest::IngestOptions options;
  options.max_body_bytes = static_cast<size_t>(s.max_body_bytes);
  options.limits.max_records = static_cast<size_t>(s.max_records);
  options.limits.max_json_depth = static_cast<size_t>(s.max_json_depth);
  options.limits.max_string_bytes = static_cast<size_t>(s.max_string_bytes);
  options.limits.max_fields_per_record = static_cast<size_t>(s.max_fields_per_record);
  options.signature_tolerance =
      std::chrono::seconds(std::max<int64_t>(1, s.signature_tolerance_ms / 1000));
  options.default_rate = {s.rate_per_second, s.rate_burst};
  const bool sqlite = !config.sqlite_path.empty();
  options.store_connections =
      static_cast<size_t>(s.store_connections > 0 ? s.store_connections : (sqlite ? 1 : 4));

  IngestListener listener;
  listener.service = std::make_unique<ingest::IngestService>(
      options, [config] { return OpenStore(config); }, std::move(*master), SystemClock::Instance());
  auto router = std::make_shared<http::Router>();
  listener.service->AddRoutes(*router);

  http::ServerOptions server;
  server.name = "ingest";
  server.address = s.address;
  server.port = s.port;
  server.max_threads = s.threads;
  server.read_timeout = std::chrono::milliseconds(s.header_timeout_ms);
  server.body_timeout = std::chrono::milliseconds(s.body_timeout_ms);
  server.connections = ToConnectionLimits(s.caps);
  server.tls_certificate_file = s.tls_certificate_file.string();
  server.tls_private_key_file = s.tls_private_key_file.string();
  Result<std::unique_ptr<http::Server>> started = http::Server::Start(server, router);
  if (!started.ok()) return ListenerFailure(config, "ingest", started.status());
  listener.server = std::move(*started);
  return listener;
}

}  // namespace reglo::app
