#include "reglo/app/relay.h"

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <nlohmann/json.hpp>
#include <set>

#include "reglo/admin/access.h"
#include "reglo/app/commands.h"
#include "reglo/app/keys.h"
#include "reglo/relay/nats_sink.h"
#include "reglo/relay/relay.h"
#include "reglo/relay/subscriptions.h"
#include "reglo/relay/webhook_sink.h"
#include "reglo/security/master_key.h"

namespace reglo::app {
namespace {

int ExitFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kConfigError:
    case StatusCode::kNotFound:
    case StatusCode::kAlreadyExists: return kExitUsage;
    default: return kExitFailure;
  }
}

int Fail(std::ostream& err, const Status& status) {
  fmt::print(err, "error: {}\n", status.ToString());
  return ExitFor(status);
}

Result<security::MasterKey> LoadMasterKey(const HubConfig& config) {
  Result<std::filesystem::path> path = SecretsFilePath(config);
  if (!path.ok()) return path.status();
  return security::MasterKey::LoadOrCreate(path->string());
}

relay::RelayOptions RelayOptionsOf(const HubConfig& config, const std::string& instance_id) {
  const RelaySettings& s = config.relay;
  relay::RelayOptions options;
  if (!s.retry_schedule_ms.empty()) {
    options.retry_schedule.clear();
    for (int64_t ms : s.retry_schedule_ms) options.retry_schedule.emplace_back(ms);
  }
  options.batch_size = s.batch_size;
  options.concurrency = s.concurrency;
  options.poll_interval = relay::Duration(s.poll_interval_ms);
  options.lease_ttl = relay::Duration(s.lease_ms);
  options.instance_id = instance_id;
  return options;
}

std::string ListText(const std::string& json_list) {
  const nlohmann::json parsed = nlohmann::json::parse(json_list, nullptr, false);
  std::vector<std::string> items;
  if (parsed.is_array()) {
    for (const auto& item : parsed) {
      if (item.is_string()) items.push_back(item.get<std::string>());
    }
  }
  return items.empty() ? "*" : fmt::format("{}", fmt::join(items, ","));
}

// "["c","s","student","42"]" -> "c/s/student/42"
std::string EntityText(const std::string& key) {
  const nlohmann::json parsed = nlohmann::json::parse(key, nullptr, false);
  if (!parsed.is_array()) return key;
  std::vector<std::string> parts;
  for (const auto& item : parsed) {
    if (item.is_string()) parts.push_back(item.get<std::string>());
  }
  return fmt::format("{}", fmt::join(parts, "/"));
}

}  // namespace

std::string InstanceId() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return fmt::format("reglo-hub@{}:{}", host, ::getpid());
}

Status ApplyRelayConfig(const HubConfig& config, storage::Store& store, const Clock& clock) {
  std::optional<security::MasterKey> master;
  if (!config.subscriptions.empty()) {
    Result<security::MasterKey> loaded = LoadMasterKey(config);
    if (!loaded.ok()) return loaded.status();
    master = std::move(*loaded);
  }
  std::set<std::string> configured;
  for (const ConfiguredSubscription& sub : config.subscriptions) {
    relay::SubscriptionSpec spec;
    spec.id = sub.id;
    spec.kind = "webhook";
    spec.url = sub.url;
    spec.event_types = sub.event_types;
    spec.company_ids = sub.company_ids;
    spec.secret = sub.secret;
    spec.enabled = sub.enabled;
    spec.origin = "config";
    Status applied = relay::ApplyConfiguredSubscription(store, &*master, spec, clock);
    if (!applied.ok()) return applied.WithContext(fmt::format("subscription '{}'", sub.id));
    configured.insert(sub.id);
  }
  if (config.relay.nats) {
    relay::SubscriptionSpec spec;
    spec.id = relay::kNatsSubscriptionId;
    spec.kind = "nats";
    spec.event_types = config.relay.nats_event_types;
    spec.company_ids = config.relay.nats_company_ids;
    spec.origin = "config";
    REGLO_RETURN_IF_ERROR(relay::ApplyConfiguredSubscription(store, nullptr, spec, clock));
    configured.insert(spec.id);
  }
  Result<std::vector<storage::SubscriptionRow>> rows = store.ListSubscriptions();
  if (!rows.ok()) return rows.status();
  for (const storage::SubscriptionRow& row : *rows) {
    if (row.origin == "config" && row.enabled && !configured.count(row.id)) {
      REGLO_RETURN_IF_ERROR(
          relay::DisableSubscription(store, row.id, "removed from the config", clock));
    }
  }
  return Status::Ok();
}

Result<std::unique_ptr<relay::Relay>> StartRelay(const HubConfig& config, const Clock& clock,
                                                 const std::string& instance_id) {
  {
    Result<std::unique_ptr<storage::Store>> store = OpenStore(config);
    if (!store.ok()) return store.status();
    REGLO_RETURN_IF_ERROR(ApplyRelayConfig(config, **store, clock));
  }
  // The master key is only needed for webhooks; a NATS-only relay runs without one.
  auto master = std::make_shared<Result<security::MasterKey>>(LoadMasterKey(config));
  relay::WebhookTimeouts timeouts;
  timeouts.connect = std::chrono::milliseconds(config.relay.connect_timeout_ms);
  timeouts.request = std::chrono::milliseconds(config.relay.timeout_ms);
  relay::NatsSettings nats;
  nats.url = config.relay.nats_url;
  nats.stream = config.relay.nats_stream;
  nats.subject_prefix = config.relay.nats_subject_prefix;
  nats.timeout = std::chrono::milliseconds(config.relay.timeout_ms);
  const bool nats_on = config.relay.nats;
  relay::SinkFactory sinks =
      [master, timeouts, nats, nats_on,
       &clock](const storage::SubscriptionRow& row) -> Result<std::unique_ptr<relay::Sink>> {
    if (row.kind == "nats") {
      if (!nats_on) return Status::ConfigError("relay.nats is not configured");
      return relay::MakeNatsSink(nats);
    }
    if (!master->ok()) return master->status();
    Result<std::string> key = relay::OpenSigningKey(**master, row);
    if (!key.ok()) return key.status();
    return relay::MakeWebhookSink(row.url, std::move(*key), clock, timeouts);
  };
  auto relay = std::make_unique<relay::Relay>(
      RelayOptionsOf(config, instance_id), [&config] { return OpenStore(config); },
      std::move(sinks), clock);
  REGLO_RETURN_IF_ERROR(relay->Start());
  return relay;
}

int RunRelay(const HubConfig& config, std::ostream& out, std::ostream& err) {
  boost::asio::io_context io;
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  int received = 0;
  signals.async_wait([&](const boost::system::error_code& error, int signal) {
    if (!error) received = signal;
  });
  Result<std::unique_ptr<relay::Relay>> relay =
      StartRelay(config, SystemClock::Instance(), InstanceId());
  if (!relay.ok()) return Fail(err, relay.status());
  fmt::print(
      out,
      "reglo-hub relay: delivering events; store {}.\n"
      "Stop with Ctrl-C or `kill -TERM {}`.\n",
      config.store_url.rfind("sqlite:", 0) == 0 ? config.store_url : std::string("(PostgreSQL)"),
      ::getpid());
  out.flush();
  io.run();
  spdlog::info("received {}; stopping the relay", received == SIGINT ? "SIGINT" : "SIGTERM");
  (*relay)->Stop();
  fmt::print(out, "reglo-hub relay: stopped.\n");
  return kExitOk;
}

int CreateSubscriptionCommand(const HubConfig& config, const SubscriptionArgs& args,
                              const Clock& clock, std::ostream& out, std::ostream& err) {
  Result<security::MasterKey> master = LoadMasterKey(config);
  if (!master.ok()) return Fail(err, master.status());
  Result<std::unique_ptr<storage::Store>> store = OpenStore(config);
  if (!store.ok()) return Fail(err, store.status());
  relay::SubscriptionSpec spec;
  spec.id = args.id;
  spec.url = args.url;
  spec.event_types = args.event_types;
  spec.company_ids = args.company_ids;
  spec.secret = args.secret;
  spec.enabled = !args.disabled;
  Result<std::string> secret = Status::Internal("not created");
  const Status audited = admin::AuditCommand(
      **store, clock, "subscription.create", spec.id, [&](storage::AuditRow& row) {
        secret = relay::CreateSubscription(**store, *master, spec, clock);
        row.after = nlohmann::json{{"url", relay::RedactUrl(spec.url)},
                                   {"eventTypes", spec.event_types},
                                   {"companyIds", spec.company_ids},
                                   {"enabled", spec.enabled}}
                        .dump();
        return secret.status();
      });
  if (!audited.ok()) return Fail(err, audited);
  fmt::print(out, "Created subscription '{}' -> {} (event types: {}; companies: {}){}.\n", args.id,
             relay::RedactUrl(args.url),
             args.event_types.empty() ? "*" : fmt::format("{}", fmt::join(args.event_types, ",")),
             args.company_ids.empty() ? "*" : fmt::format("{}", fmt::join(args.company_ids, ",")),
             args.disabled ? ", disabled" : "");
  if (args.secret.empty()) {
    fmt::print(out,
               "\n  Signing secret: {}\n\n"
               "WARNING: give it to the receiver now (it verifies webhook-signature with it): it "
               "will NOT be shown again.\n",
               *secret);
  }
  return kExitOk;
}

int ListSubscriptionsCommand(const HubConfig& config, std::ostream& out, std::ostream& err) {
  Result<std::unique_ptr<storage::Store>> store = OpenStore(config);
  if (!store.ok()) return Fail(err, store.status());
  Result<std::vector<relay::SubscriptionStatus>> list = relay::ListSubscriptionStatus(**store);
  if (!list.ok()) return Fail(err, list.status());
  if (list->empty()) {
    fmt::print(out,
               "No subscriptions. Create one with: reglo-hub subscriptions create --id ID "
               "--url URL\n");
    return kExitOk;
  }
  constexpr std::string_view kRow = "{:<20} {:<8} {:<9} {:>9} {:>7} {:>7} {:>5}  {}\n";
  fmt::print(out, kRow, "ID", "KIND", "STATE", "POSITION", "LAG", "PENDING", "DEAD",
             "TARGET / FILTERS");
  for (const relay::SubscriptionStatus& s : *list) {
    const storage::SubscriptionRow& row = s.row;
    fmt::print(out, kRow, row.id, row.kind, row.enabled ? "enabled" : "disabled", s.position, s.lag,
               s.pending, s.dead,
               fmt::format("{} types={} companies={}{}",
                           row.kind == "webhook" ? relay::RedactUrl(row.url) : "JetStream",
                           ListText(row.event_types), ListText(row.company_ids),
                           row.enabled ? "" : " (" + row.disabled_reason + ")"));
  }
  return kExitOk;
}

int SetSubscriptionEnabledCommand(const HubConfig& config, const std::string& id, bool enabled,
                                  const Clock& clock, std::ostream& out, std::ostream& err) {
  Result<std::unique_ptr<storage::Store>> store = OpenStore(config);
  if (!store.ok()) return Fail(err, store.status());
  const Status done = admin::AuditCommand(
      **store, clock, enabled ? "subscription.enable" : "subscription.disable", id,
      [&](storage::AuditRow&) {
        return enabled ? relay::EnableSubscription(**store, id, clock)
                       : relay::DisableSubscription(**store, id, "disabled by an operator", clock);
      });
  if (!done.ok()) return Fail(err, done);
  fmt::print(out, "Subscription '{}' {}.\n", id,
             enabled ? "enabled: delivery resumes where it stopped" : "disabled");
  return kExitOk;
}

int DeleteSubscriptionCommand(const HubConfig& config, const std::string& id, const Clock& clock,
                              std::ostream& out, std::ostream& err) {
  Result<std::unique_ptr<storage::Store>> store = OpenStore(config);
  if (!store.ok()) return Fail(err, store.status());
  const Status done = admin::AuditCommand(
      **store, clock, "subscription.delete", id,
      [&](storage::AuditRow&) { return relay::DeleteSubscription(**store, id); });
  if (!done.ok()) return Fail(err, done);
  fmt::print(out, "Deleted subscription '{}' with its position and deliveries.\n", id);
  return kExitOk;
}

int ListDeliveriesCommand(const HubConfig& config, const std::string& subscription_id,
                          const std::string& status, int limit, std::ostream& out,
                          std::ostream& err) {
  Result<std::unique_ptr<storage::Store>> store = OpenStore(config);
  if (!store.ok()) return Fail(err, store.status());
  Result<std::vector<storage::DeliveryRow>> rows =
      relay::ListDeliveries(**store, subscription_id, status, limit);
  if (!rows.ok()) return Fail(err, rows.status());
  if (rows->empty()) {
    fmt::print(out,
               "No deliveries{}. (Events delivered at the first attempt leave none: see "
               "`subscriptions list` for positions.)\n",
               status.empty() ? "" : " with status " + status);
    return kExitOk;
  }
  constexpr std::string_view kRow = "{:<16} {:>8} {:<9} {:>8} {:<24} {:<22} {:<28} {}\n";
  fmt::print(out, kRow, "SUBSCRIPTION", "SEQUENCE", "STATUS", "ATTEMPTS", "NEXT ATTEMPT", "TYPE",
             "ENTITY", "LAST ERROR");
  for (const storage::DeliveryRow& row : *rows) {
    fmt::print(out, kRow, row.subscription_id, row.sequence, row.status, row.attempts,
               row.status == "pending" ? row.next_attempt_at : "-", row.event_type,
               EntityText(row.entity_key), row.last_error.empty() ? "-" : row.last_error);
  }
  return kExitOk;
}

int RedeliverCommand(const HubConfig& config, const std::string& subscription_id,
                     const std::vector<int64_t>& sequences, bool all_dead, const Clock& clock,
                     std::ostream& out, std::ostream& err) {
  if (sequences.empty() == !all_dead) {
    return Fail(err, Status::InvalidArgument("give event sequences or --all-dead (not both)"));
  }
  Result<std::unique_ptr<storage::Store>> store = OpenStore(config);
  if (!store.ok()) return Fail(err, store.status());
  if (all_dead) {
    Result<int64_t> count = int64_t{0};
    const Status done = admin::AuditCommand(
        **store, clock, "delivery.redeliver-dead", subscription_id, [&](storage::AuditRow& row) {
          count = relay::RedeliverDead(**store, subscription_id, clock);
          if (count.ok()) row.after = nlohmann::json{{"redelivered", *count}}.dump();
          return count.status();
        });
    if (!done.ok()) return Fail(err, done);
    fmt::print(out, "Queued {} dead-lettered deliveries of '{}' for redelivery.\n", *count,
               subscription_id);
    return kExitOk;
  }
  for (int64_t sequence : sequences) {
    const Status done = admin::AuditCommand(
        **store, clock, "delivery.redeliver", fmt::format("{}/{}", subscription_id, sequence),
        [&](storage::AuditRow&) {
          return relay::Redeliver(**store, subscription_id, sequence, clock);
        });
    if (!done.ok()) return Fail(err, done);
  }
  fmt::print(out, "Queued {} event(s) for redelivery to '{}'.\n", sequences.size(),
             subscription_id);
  return kExitOk;
}

}  // namespace reglo::app
