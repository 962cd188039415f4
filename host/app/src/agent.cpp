#include "reglo/app/agent.h"

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/URI.h>
#include <fmt/format.h>
#include <fmt/ostream.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "reglo/agent/spool.h"
#include "reglo/app/commands.h"
#include "reglo/core/json_writer.h"
#include "reglo/core/masking.h"
#include "reglo/ingest/agent_keys.h"
#include "reglo/security/signature.h"

namespace reglo::app {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::atomic<int> g_signal{0};

extern "C" void OnStopSignal(int signal) {
  g_signal.store(signal);
}

bool Stopping() {
  return g_signal.load() != 0;
}

// Sleeps up to `duration`, waking early on a stop signal.
void Wait(milliseconds duration) {
  const auto until = Clock::now() + duration;
  while (!Stopping() && Clock::now() < until) {
    std::this_thread::sleep_for(std::min<Clock::duration>(milliseconds(50), until - Clock::now()));
  }
}

std::string RandomId() {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  return fmt::format("agt_{:016x}{:016x}", random(), random());
}

// The hub's answer to one request; status 0 when it could not be reached.
struct HubReply {
  int status = 0;
  std::string body;
  milliseconds retry_after{0};
  std::string error;  // transport error, when status is 0
};

// Signed requests to the hub (Standard Webhooks headers + Bearer agent key).
class HubClient {
 public:
  HubClient(const AgentConfig& config, std::string signing_key)
      : config_(config), key_(std::move(signing_key)), uri_(config.hub_url) {
    if (uri_.getScheme() == "https") {
      context_ = new Poco::Net::Context(
          Poco::Net::Context::TLS_CLIENT_USE, "", "", config.ca_file.string(),
          config.tls_verify ? Poco::Net::Context::VERIFY_RELAXED : Poco::Net::Context::VERIFY_NONE,
          9, /*loadDefaultCAs=*/true);
    }
  }

  HubReply Send(const std::string& method, const std::string& path, const std::string& id,
                const std::string& body) {
    HubReply reply;
    try {
      std::unique_ptr<Poco::Net::HTTPClientSession> session;
      if (context_) {
        session = std::make_unique<Poco::Net::HTTPSClientSession>(uri_.getHost(), uri_.getPort(),
                                                                  context_);
      } else {
        session = std::make_unique<Poco::Net::HTTPClientSession>(uri_.getHost(), uri_.getPort());
      }
      session->setTimeout(Poco::Timespan(config_.request_timeout_ms * 1000));
      Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
      const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
      Result<std::string> signature = security::SignWebhook(key_, id, now, body);
      if (!signature.ok()) {
        reply.error = signature.status().message();
        return reply;
      }
      request.set("Authorization", "Bearer " + config_.api_key);
      request.set("webhook-id", id);
      request.set("webhook-timestamp", std::to_string(now));
      request.set("webhook-signature", *signature);
      if (method == "POST") {
        request.setContentType("application/json");
        request.setContentLength64(static_cast<Poco::Int64>(body.size()));
      }
      session->sendRequest(request) << body;
      Poco::Net::HTTPResponse response;
      std::istream& in = session->receiveResponse(response);
      std::ostringstream text;
      text << in.rdbuf();
      reply.status = static_cast<int>(response.getStatus());
      reply.body = text.str();
      const std::string retry = response.get("Retry-After", "");
      if (!retry.empty() && retry.find_first_not_of("0123456789") == std::string::npos &&
          retry.size() < 7) {
        reply.retry_after = milliseconds(std::stoll(retry) * 1000);
      }
    } catch (const Poco::Exception& error) {
      reply.status = 0;
      reply.error = error.displayText();
    } catch (const std::exception& error) {
      reply.status = 0;
      reply.error = error.what();
    }
    return reply;
  }

 private:
  const AgentConfig& config_;
  std::string key_;
  Poco::URI uri_;
  Poco::Net::Context::Ptr context_;
};

// Turns one pull into spooled batches: canonical records mapped here, `batch_records` per push,
// and a batch at every checkpoint carrying its cursor.
class SpoolingHandler final : public plugin_host::PullHandler {
 public:
  SpoolingHandler(const AgentConfig& config, const storage::SourceRow& source,
                  plugin_host::ConnectorInstance& connector, agent::Spool& spool,
                  std::string stream, std::function<void()> spooled)
      : config_(config),
        source_(source),
        connector_(connector),
        spool_(spool),
        stream_(std::move(stream)),
        on_spooled_(std::move(spooled)) {}

  Status OnRecord(const reglo_record& record) override {
    Status mapped = connector_.MapToCanonical(record, [this](const reglo_record& canonical) {
      AddRecord(canonical);
      return Status::Ok();
    });
    if (!mapped.ok()) {
      ++unmapped_;
      spdlog::warn("agent: source {}: a record could not be mapped: {}", source_.id,
                   MaskPersonalData(mapped.message()));
    }
    if (static_cast<int64_t>(count_) >= config_.batch_records) return Flush(std::nullopt);
    return Status::Ok();
  }
  Status OnCheckpoint(std::string_view cursor, uint64_t) override {
    return Flush(std::string(cursor));
  }
  void OnWarning(std::string_view origin, std::string_view message) override {
    spdlog::warn("agent: source {}: {}{}", source_.id,
                 origin.empty() ? "" : std::string(origin) + ": ", MaskPersonalData(message));
  }
  bool ShouldStop() override { return Stopping() || full_; }

  // Spools what is buffered (a checkpoint with no records still carries its cursor).
  Status Flush(std::optional<std::string> cursor) {
    if (count_ == 0 && !cursor) return Status::Ok();
    JsonWriter body;
    body.BeginObject();
    body.Key("companyId").String(source_.company_id);
    body.Key("sourceSystem").String(source_.source_system);
    body.Key("stream").String(stream_);
    body.Key("cursor");
    cursor ? body.String(*cursor) : body.Null();
    body.Key("data").Raw(records_.empty() ? std::string("[]") : records_ + "]");
    body.EndObject();
    agent::SpooledBatch batch;
    batch.source_id = source_.id;
    batch.stream = stream_;
    batch.cursor = std::move(cursor);
    batch.request_id = RandomId();
    batch.body = body.str();
    Result<uint64_t> added = spool_.Add(std::move(batch));
    if (!added.ok()) {
      if (added.status().code() == StatusCode::kRetryable) full_ = true;
      return added.status();
    }
    spooled_ += count_;
    ++batches_;
    records_.clear();
    count_ = 0;
    if (on_spooled_) on_spooled_();  // deliver while pulling, when the hub is there
    return Status::Ok();
  }

  size_t spooled() const { return spooled_; }
  size_t batches() const { return batches_; }
  bool full() const { return full_; }

 private:
  void AddRecord(const reglo_record& canonical) {
    JsonWriter record;
    record.BeginObject();
    record.Key("entity").String(canonical.entity ? canonical.entity : "");
    record.Key("externalId").String(canonical.external_id ? canonical.external_id : "");
    if (canonical.source_updated_at)
      record.Key("sourceUpdatedAt").String(canonical.source_updated_at);
    for (size_t i = 0; i < canonical.field_count; ++i) {
      const reglo_field& field = canonical.fields[i];
      if (field.name == nullptr) continue;
      record.Key(field.name);
      field.value ? record.String(std::string_view(field.value, field.value_len)) : record.Null();
    }
    record.EndObject();
    records_ += records_.empty() ? "[" : ",";
    records_ += record.str();
    ++count_;
  }

  const AgentConfig& config_;
  const storage::SourceRow& source_;
  plugin_host::ConnectorInstance& connector_;
  agent::Spool& spool_;
  std::string stream_;
  std::function<void()> on_spooled_;
  std::string records_;  // "[{...},{...}" while records are buffered
  size_t count_ = 0;
  size_t spooled_ = 0;
  size_t batches_ = 0;
  size_t unmapped_ = 0;
  bool full_ = false;
};

class Agent {
 public:
  Agent(const AgentConfig& config, agent::Spool& spool, HubClient& hub)
      : config_(config), spool_(spool), hub_(hub), random_(std::random_device{}()) {}

  // Sends the spooled batches in order. True when the spool is empty afterwards.
  bool Drain() {
    for (uint64_t sequence : spool_.Pending()) {
      if (Stopping() || Clock::now() < not_before_) return false;
      Result<agent::SpooledBatch> batch = spool_.Read(sequence);
      if (!batch.ok()) {
        spdlog::error("agent: {}", batch.status().ToString());
        Backoff();
        return false;
      }
      const HubReply reply = hub_.Send("POST", "/api/hub/ingest", batch->request_id, batch->body);
      if (reply.status == 200) {
        failures_ = 0;
        if (batch->cursor) {
          Status saved = spool_.SetCursor(batch->source_id, batch->stream, *batch->cursor);
          if (!saved.ok()) {
            spdlog::error("agent: {}", saved.ToString());
            Backoff();
            return false;
          }
        }
        Status removed = spool_.Remove(sequence);
        if (!removed.ok()) {
          spdlog::error("agent: {}", removed.ToString());
          Backoff();
          return false;
        }
        ++delivered_;
        spdlog::debug("agent: batch {} of source {} acknowledged", sequence, batch->source_id);
        continue;
      }
      if (reply.status == 429) {
        const milliseconds wait =
            reply.retry_after.count() > 0 ? reply.retry_after : milliseconds(1000);
        spdlog::info("agent: the hub asks to slow down; retrying in {} ms", wait.count());
        not_before_ = Clock::now() + wait;
        return false;
      }
      if (reply.status == 400 || reply.status == 413 || reply.status == 422) {
        // The hub will never take this batch as it is: keep it for the operator, go on.
        spdlog::error(
            "agent: the hub refused batch {} of source {} for good ({}): {}; moved to "
            "{}/rejected",
            sequence, batch->source_id, reply.status, ProblemType(reply.body),
            config_.spool_dir.string());
        (void)spool_.Reject(sequence);
        continue;
      }
      if (reply.status == 0) {
        spdlog::warn("agent: the hub at {} is unreachable: {}", config_.hub_url, reply.error);
      } else {
        spdlog::warn("agent: the hub answered {} ({}) for batch {}", reply.status,
                     ProblemType(reply.body), sequence);
      }
      Backoff();
      return false;
    }
    return spool_.Pending().empty();
  }

  // Pulls one source into the spool. False when the pull failed or could not start.
  bool Pull(const storage::SourceRow& source, plugin_host::ConnectorInstance& connector) {
    Result<std::vector<std::string>> streams = connector.ListStreams();
    if (!streams.ok()) {
      spdlog::warn("agent: source {}: {}", source.id,
                   MaskPersonalData(streams.status().ToString()));
      return false;
    }
    // Every stream's cursor first, so the pull itself needs no hub: an outage meanwhile only
    // fills the spool.
    std::vector<std::optional<std::string>> cursors;
    for (const std::string& stream : *streams) {
      std::optional<std::string>& cursor = cursors.emplace_back(spool_.Cursor(source.id, stream));
      if (!cursor) {
        // No cursor acknowledged here (first start, or a lost disk): ask the hub where it is.
        const HubReply reply = hub_.Send("GET", "/api/hub/cursor?stream=" + stream, RandomId(), "");
        if (reply.status != 200) {
          spdlog::warn("agent: source {}: cannot read the hub's cursor ({} {})", source.id,
                       reply.status, reply.status == 0 ? reply.error : ProblemType(reply.body));
          Backoff();
          return false;
        }
        const nlohmann::json answer = nlohmann::json::parse(reply.body, nullptr, false);
        if (answer.is_object() && answer.contains("cursor") && answer["cursor"].is_string()) {
          cursor = answer["cursor"].get<std::string>();
        }
      }
    }
    size_t records = 0;
    for (size_t s = 0; s < streams->size(); ++s) {
      const std::string& stream = (*streams)[s];
      SpoolingHandler handler(config_, source, connector, spool_, stream, [this] { Drain(); });
      Status pulled = connector.Pull(stream, cursors[s], handler);
      if (pulled.ok()) pulled = handler.Flush(std::nullopt);
      records += handler.spooled();
      if (!pulled.ok() && !handler.full() && !Stopping()) {
        spdlog::warn("agent: source {} stream {}: {}", source.id, stream,
                     MaskPersonalData(pulled.ToString()));
        return false;
      }
      if (handler.full()) {
        spdlog::info("agent: the spool is full ({} bytes); pulling resumes once the hub took it",
                     spool_.bytes());
        break;
      }
      if (Stopping()) break;
    }
    spdlog::info("agent: source {}: {} records spooled", source.id, records);
    return true;
  }

  bool backing_off() const { return Clock::now() < not_before_; }
  Clock::time_point not_before() const { return not_before_; }
  size_t delivered() const { return delivered_; }

 private:
  static std::string ProblemType(const std::string& body) {
    const nlohmann::json problem = nlohmann::json::parse(body, nullptr, false);
    if (problem.is_object() && problem.contains("type") && problem["type"].is_string()) {
      return problem["type"].get<std::string>();
    }
    return "no problem type";
  }

  void Backoff() {
    ++failures_;
    const double ceiling = std::min<double>(
        static_cast<double>(config_.backoff_cap_ms),
        static_cast<double>(config_.backoff_base_ms) * std::pow(2.0, std::min(failures_ - 1, 30)));
    std::uniform_real_distribution<double> jitter(0, ceiling);
    not_before_ = Clock::now() + milliseconds(static_cast<int64_t>(jitter(random_)));
  }

  const AgentConfig& config_;
  agent::Spool& spool_;
  HubClient& hub_;
  std::mt19937_64 random_;
  int failures_ = 0;
  size_t delivered_ = 0;
  Clock::time_point not_before_{};
};

}  // namespace

int RunAgent(const AgentConfig& config, bool once, std::ostream& out, std::ostream& err) {
  Result<std::string> key = security::ParseWebhookSecret(config.signing_secret);
  if (!key.ok()) {
    fmt::print(err, "error: hub.signing_secret: {}\n", key.status().message());
    return kExitUsage;
  }
  if (!ingest::ApiKeyPrefix(config.api_key)) {
    fmt::print(err, "error: hub.api_key: not an agent key (rgk_<prefix>_...)\n");
    return kExitUsage;
  }
  if (config.sources.empty()) {
    fmt::print(err, "error: no source in {}\n", config.path.string());
    return kExitUsage;
  }
  Result<std::unique_ptr<agent::Spool>> spool =
      agent::Spool::Open(config.spool_dir, static_cast<uint64_t>(config.spool_max_bytes));
  if (!spool.ok()) {
    fmt::print(err, "error: {}\n", spool.status().ToString());
    return kExitFailure;
  }
  if (Status readable = CheckPluginsDir(config.path, config.plugins_dir); !readable.ok()) {
    fmt::print(err, "error: {}\n", readable.ToString());
    return kExitUsage;
  }
  plugin_host::PluginSet plugins = plugin_host::LoadPluginDirectory(config.plugins_dir);
  for (const plugin_host::PluginLoadError& error : plugins.errors) {
    fmt::print(err, "warning: {}\n", MaskPersonalData(error.reason));
  }
  std::vector<std::unique_ptr<plugin_host::ConnectorInstance>> connectors;
  for (size_t i = 0; i < config.sources.size(); ++i) {
    Result<std::unique_ptr<plugin_host::ConnectorInstance>> connector =
        CreateConnector(config.path, i, config.plugins_dir, plugins, config.sources[i]);
    if (!connector.ok()) {
      fmt::print(err, "error: {}\n", MaskPersonalData(connector.status().ToString()));
      return connector.status().code() == StatusCode::kConfigError ? kExitUsage : kExitFailure;
    }
    connectors.push_back(std::move(*connector));
  }

  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGTERM, &action, nullptr);
  ::sigaction(SIGINT, &action, nullptr);

  HubClient hub(config, std::move(*key));
  Agent agent(config, **spool, hub);
  fmt::print(out,
             "reglo-hub agent: {} source(s) -> {} as {}; spool {} ({} batches pending). Stop with "
             "Ctrl-C or SIGTERM.\n",
             config.sources.size(), config.hub_url,
             ingest::DisplayKey(*ingest::ApiKeyPrefix(config.api_key),
                                config.api_key.substr(config.api_key.size() - 4)),
             config.spool_dir.string(), (*spool)->Pending().size());
  out.flush();

  std::vector<Clock::time_point> next_pull(config.sources.size(), Clock::now());
  std::vector<bool> pulled_once(config.sources.size(), false);
  while (!Stopping()) {
    const bool drained = agent.Drain();
    for (size_t i = 0; i < config.sources.size() && !Stopping(); ++i) {
      const storage::SourceRow& source = config.sources[i];
      if (!source.enabled || Clock::now() < next_pull[i] || agent.backing_off()) continue;
      if ((*spool)->HasPending(source.id)) continue;  // deliver what it has first
      if (once && pulled_once[i]) continue;
      if (!agent.Pull(source, *connectors[i])) continue;
      pulled_once[i] = true;
      auto interval = config.interval_ms.find(source.id);
      next_pull[i] = Clock::now() + milliseconds(interval != config.interval_ms.end()
                                                     ? interval->second
                                                     : config.default_interval_ms);
      agent.Drain();
    }
    if (once && (*spool)->Pending().empty() &&
        std::all_of(pulled_once.begin(), pulled_once.end(), [](bool done) { return done; })) {
      break;
    }
    // Sleep until the next pull or the end of the backoff, whichever is first.
    auto wake = *std::min_element(next_pull.begin(), next_pull.end());
    if (!drained || agent.backing_off()) wake = agent.not_before();
    const auto now = Clock::now();
    Wait(std::clamp(std::chrono::duration_cast<milliseconds>(wake - now), milliseconds(20),
                    milliseconds(1000)));
  }
  const size_t pending = (*spool)->Pending().size();
  fmt::print(out, "reglo-hub agent: {} batches delivered, {} pending in the spool; stopped.\n",
             agent.delivered(), pending);
  return once && pending > 0 ? kExitFailure : kExitOk;
}

}  // namespace reglo::app
