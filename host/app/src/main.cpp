// reglo-hub: the command-line entry point. Parses the command line, loads the config and hands
// over to the commands in commands.cpp.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "reglo/app/agent.h"
#include "reglo/app/commands.h"
#include "reglo/app/config.h"
#include "reglo/app/housekeeping.h"
#include "reglo/app/keys.h"
#include "reglo/app/logging.h"
#include "reglo/app/relay.h"
#include "reglo/app/serve.h"
#include "reglo/app/subject.h"
#include "reglo/core/text.h"

namespace {

constexpr char kVersion[] = "0.1.0";

std::string DefaultConfigPath() {
  const char* from_env = std::getenv("REGLO_CONFIG");
  return from_env != nullptr && *from_env != '\0' ? from_env : "reglo-hub.json";
}

// The exit of a command that could not key its masking (no key file could be read or created).
int MaskingKeyFailure(const reglo::Status& status) {
  std::cerr << "error: masking key: " << status.ToString() << "\n";
  return status.code() == reglo::StatusCode::kConfigError ? reglo::app::kExitUsage
                                                          : reglo::app::kExitFailure;
}

// The command word at argv[i] when it names no subcommand where one is expected ("snyc", or
// "lst" after "keys"), with the subcommands it could have been; empty when every word is known.
struct UnknownCommand {
  std::string word;
  std::string nearest;           // the nearest subcommand, when close enough to be a typo
  std::vector<std::string> all;  // every subcommand at that level
};
std::optional<UnknownCommand> FindUnknownCommand(CLI::App& app, int argc, char** argv) {
  CLI::App* level = &app;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") return std::nullopt;
    if (arg.size() > 1 && arg[0] == '-') {
      // An option: skip its value when it takes one and it is not attached ("--config x").
      const std::string name = arg.substr(0, arg.find('='));
      const CLI::Option* option = nullptr;  // the command's own, else a parent's (fallthrough)
      for (CLI::App* owner = level; owner != nullptr && option == nullptr;
           owner = owner->get_parent()) {
        option = owner->get_option_no_throw(name);
      }
      if (option != nullptr && option->get_expected_min() > 0 && name == arg) ++i;
      continue;
    }
    std::vector<std::string> names;
    for (const CLI::App* sub : level->get_subcommands([](CLI::App*) { return true; })) {
      names.push_back(sub->get_name());
    }
    if (names.empty()) return std::nullopt;  // a leaf command's own argument
    CLI::App* sub = nullptr;
    for (CLI::App* candidate : level->get_subcommands([](CLI::App*) { return true; })) {
      if (candidate->get_name() == arg) sub = candidate;
    }
    if (sub == nullptr) return UnknownCommand{arg, reglo::NearestName(arg, names), names};
    level = sub;
  }
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Reglo Hub: loads connector plugins, pulls what changed in driving-school systems, maps it "
      "to "
      "the canonical model and writes it idempotently with its domain events.\n"
      "Exit codes: 0 success, 1 failure, 2 bad usage or configuration, 3 success with warnings.",
      "reglo-hub"};
  app.set_version_flag("--version", kVersion);
  app.require_subcommand(1);
  // --config and --log-level also after the command (`reglo-hub sync --once --config x.json`);
  // the subcommands created below inherit it.
  app.fallthrough();
  std::string config_path = DefaultConfigPath();
  std::string log_level = "info";
  app.add_option("-c,--config", config_path,
                 "config file (default: $REGLO_CONFIG or reglo-hub.json)");
  app.add_option("--log-level", log_level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));

  CLI::App* sync =
      app.add_subcommand("sync", "pull every enabled source (or one) and commit what changed");
  bool once = false;
  std::string sync_source;
  // Checked after parsing, not ->required(): the help then shows no "REQUIRED" against a flag.
  sync->add_flag("--once", once,
                 "run each source once and exit (required: `reglo-hub serve` is the sync that "
                 "keeps running)");
  sync->add_option("--source", sync_source, "sync only the source with this id");

  CLI::App* preview = app.add_subcommand(
      "preview",
      "dry-run a source: print its mapped records and warnings as JSON lines, commit nothing");
  std::string preview_source;
  int64_t limit = 20;
  preview->add_option("--source", preview_source, "the source id")->required();
  preview->add_option("--limit", limit, "records to print (0: all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  bool from_cursor = false;
  preview->add_flag("--from-cursor", from_cursor,
                    "start from the stored cursors (show only what the next sync would read); "
                    "default: from the beginning");

  CLI::App* plugins = app.add_subcommand("plugins", "inspect connector plugins");
  plugins->require_subcommand(1);
  plugins->add_subcommand("list",
                          "list the plugins in the plugins folder, and those refused and why");

  app.add_subcommand("migrate", "create the store or bring its schema up to date");

  CLI::App* housekeep = app.add_subcommand(
      "housekeep",
      "prune old runs, run logs, events, deliveries and dead letters once (the config's "
      "\"retention\"), give freed space back, print what was pruned");
  bool vacuum = false;
  housekeep->add_flag("--vacuum", vacuum,
                      "also VACUUM a SQLite store created before incremental auto-vacuum (once; "
                      "rewrites the file and blocks writers while it runs)");

  CLI::App* keys = app.add_subcommand("keys", "manage the API keys remote agents push with");
  keys->require_subcommand(1);
  CLI::App* keys_create = keys->add_subcommand(
      "create",
      "create a key for one company and source; prints the API key and its signing "
      "secret ONCE");
  std::string key_company;
  std::string key_source;
  std::vector<std::string> key_cidrs;
  keys_create->add_option("--company", key_company, "the company id the key may push for")
      ->required();
  keys_create->add_option("--source", key_source, "the source system the key may push for")
      ->required();
  keys_create->add_option("--allow-ip", key_cidrs,
                          "accept pushes only from these addresses or CIDR blocks (repeatable; "
                          "default: anywhere)");
  std::optional<double> key_rate;
  std::optional<int64_t> key_burst;
  keys_create
      ->add_option("--rate", key_rate,
                   "this key's ingest rate limit in requests per second (default: the hub's "
                   "ingest.rate_limit)")
      ->check(CLI::PositiveNumber);
  keys_create->add_option("--burst", key_burst, "requests this key may send at once")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  CLI::App* keys_list = keys->add_subcommand(
      "list", "list keys: prefix and last 4, scope, status, created, last used (never a secret)");
  CLI::App* keys_revoke = keys->add_subcommand("revoke", "revoke a key at once");
  std::string key_prefix;
  keys_revoke->add_option("prefix", key_prefix, "the key's prefix, as `keys list` shows it")
      ->required();

  // Data subjects' requests (issue #18): their handlers are in subject.cpp.
  CLI::App* subject = app.add_subcommand(
      "subject", "answer a data subject's access or erasure request (GDPR art. 15 and 17)");
  subject->require_subcommand(1);
  reglo::app::SubjectArgs subject_args;
  CLI::App* subject_export = subject->add_subcommand(
      "export",
      "print everything stored about a student as JSON (records, events, deliveries, "
      "dead letters, run log lines)");
  CLI::App* subject_erase = subject->add_subcommand(
      "erase", "erase a student's personal data everywhere, keep tombstones, emit student.erased");
  for (CLI::App* command : {subject_export, subject_erase}) {
    command->add_option("--company", subject_args.company, "the company id")->required();
    command->add_option("--cf", subject_args.fiscal_code, "the student's codice fiscale");
    command->add_option("--entity", subject_args.entity,
                        "with --external-id: student, or a case, appointment, document or "
                        "payment of the student");
    command->add_option("--external-id", subject_args.external_id, "the record's externalId");
    command->add_option("--source-system", subject_args.source_system,
                        "with --entity: only this source system's record");
  }
  subject_erase->add_flag("--yes", subject_args.yes,
                          "confirm: erasing cannot be undone (without it, says what would go)");

  CLI::App* admin_token =
      app.add_subcommand("admin-token", "manage the admin token of the admin listener");
  admin_token->require_subcommand(1);
  CLI::App* admin_token_reset = admin_token->add_subcommand(
      "reset",
      "make a new admin token, print it once and store its hash (the old one stops working at "
      "once, also in a running hub)");

  CLI::App* admin_tokens = app.add_subcommand(
      "admin-tokens", "manage named admin tokens with a role (viewer, operator or admin)");
  admin_tokens->require_subcommand(1);
  CLI::App* admin_tokens_create = admin_tokens->add_subcommand(
      "create", "create a named token with a role; prints the token ONCE");
  std::string admin_token_name;
  std::string admin_token_role;
  admin_tokens_create->add_option("--name", admin_token_name, "the token's name (a-z 0-9 . _ -)")
      ->required();
  admin_tokens_create->add_option("--role", admin_token_role, "viewer, operator or admin")
      ->required()
      ->check(CLI::IsMember({"viewer", "operator", "admin"}));
  CLI::App* admin_tokens_list =
      admin_tokens->add_subcommand("list", "list named tokens: name, role, created, revoked");
  CLI::App* admin_tokens_revoke =
      admin_tokens->add_subcommand("revoke", "revoke a named token at once");
  admin_tokens_revoke->add_option("name", admin_token_name, "the token's name")->required();

  CLI::App* serve = app.add_subcommand(
      "serve",
      "run the sync engine: every enabled source on its interval, supervised, with the plugins "
      "folder watched; stops gracefully on SIGTERM or Ctrl-C");
  serve->footer(
      "What it reads and opens:\n"
      "  config        the file --config names (default: $REGLO_CONFIG or reglo-hub.json): the\n"
      "                store, plugins_dir and the sources; a source whose connector is not loaded\n"
      "                is shown Failed, the others run\n"
      "  admin         the console, the admin API and /metrics on admin.listen (default\n"
      "                127.0.0.1:8470; \"admin\": {\"enabled\": false} turns it off)\n"
      "  admin token   printed once on the first start and stored hashed; admin.token or\n"
      "                $REGLO_ADMIN_TOKEN set it instead; `reglo-hub admin-token reset` makes a\n"
      "                new one\n"
      "  ingest        with an \"ingest\" object, the ingestion API for agents on ingest.listen\n"
      "Exits 2 on a configuration error (a listener's port in use names its key and exits 1).");

  app.add_subcommand("relay",
                     "run only the event relay: deliver the outbox to the subscriptions until "
                     "SIGTERM or Ctrl-C (serve runs it too)");

  CLI::App* subs = app.add_subcommand("subscriptions", "manage where events are delivered");
  subs->require_subcommand(1);
  CLI::App* subs_create = subs->add_subcommand(
      "create", "create a webhook subscription; prints its signing secret ONCE unless given");
  reglo::app::SubscriptionArgs sub_args;
  subs_create->add_option("--id", sub_args.id, "the subscription id (letters, digits, - _ .)")
      ->required();
  subs_create->add_option("--url", sub_args.url, "the webhook endpoint (http:// or https://)")
      ->required();
  subs_create->add_option("--event-type", sub_args.event_types,
                          "deliver only this event type (repeatable; student.* for an entity; "
                          "default: all)");
  subs_create->add_option("--company", sub_args.company_ids,
                          "deliver only this company's events (repeatable; default: all)");
  subs_create->add_option("--secret", sub_args.secret,
                          "use this signing secret (whsec_...) instead of generating one");
  subs_create->add_flag("--disabled", sub_args.disabled, "create it disabled");
  subs->add_subcommand("list",
                       "list subscriptions: state, position, lag, pending and dead deliveries");
  std::string sub_id;
  CLI::App* subs_enable = subs->add_subcommand("enable", "enable a subscription (resumes)");
  subs_enable->add_option("id", sub_id, "the subscription id")->required();
  CLI::App* subs_disable = subs->add_subcommand("disable", "disable a subscription (pauses)");
  subs_disable->add_option("id", sub_id, "the subscription id")->required();
  CLI::App* subs_delete =
      subs->add_subcommand("delete", "delete a subscription with its position and deliveries");
  subs_delete->add_option("id", sub_id, "the subscription id")->required();

  CLI::App* deliveries = app.add_subcommand("deliveries", "inspect and redeliver deliveries");
  deliveries->require_subcommand(1);
  CLI::App* deliveries_list = deliveries->add_subcommand(
      "list", "deliveries that needed retries, waited, or were dead-lettered or redelivered");
  std::string delivery_status;
  int delivery_limit = 100;
  deliveries_list->add_option("--subscription", sub_id, "only this subscription");
  deliveries_list->add_option("--status", delivery_status, "pending, delivered or dead")
      ->check(CLI::IsMember({"pending", "delivered", "dead"}));
  deliveries_list->add_option("--limit", delivery_limit, "rows to show")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  CLI::App* deliveries_redeliver = deliveries->add_subcommand(
      "redeliver", "deliver events to a subscription again (dead-lettered ones, or any)");
  std::vector<int64_t> redeliver_sequences;
  bool redeliver_all_dead = false;
  deliveries_redeliver->add_option("--subscription", sub_id, "the subscription id")->required();
  deliveries_redeliver->add_option("sequence", redeliver_sequences,
                                   "event sequences (as `deliveries list` shows them)");
  deliveries_redeliver->add_flag("--all-dead", redeliver_all_dead,
                                 "every dead-lettered delivery of the subscription");

  CLI::App* agent = app.add_subcommand(
      "agent",
      "run next to a legacy system: pull the configured sources and push signed batches to a "
      "hub's ingestion API through a durable spool; stops on SIGTERM or Ctrl-C");
  std::string agent_config;
  agent->add_option("--config", agent_config,
                    "the agent's config file (default: the --config given before `agent`, else "
                    "$REGLO_CONFIG or reglo-hub.json)");
  bool agent_once = false;
  agent->add_flag("--once", agent_once,
                  "pull every source once, deliver everything, then exit (1 if something is "
                  "left undelivered)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // A mistyped command word explains the error best, whatever CLI11 tripped on first.
    if (std::optional<UnknownCommand> unknown = FindUnknownCommand(app, argc, argv)) {
      std::cerr << "error: unknown command '" << reglo::Excerpt(unknown->word, 40) << "'";
      if (!unknown->nearest.empty()) {
        std::cerr << ": did you mean '" << unknown->nearest << "'?\n";
      } else {
        std::cerr << " (expected one of: " << fmt::format("{}", fmt::join(unknown->all, ", "))
                  << ")\n";
      }
      std::cerr << "Run with --help for more information.\n";
      return reglo::app::kExitUsage;
    }
    app.exit(e);
    return reglo::app::kExitUsage;
  }
  if (sync->parsed() && !once) {
    std::cerr << "error: sync: --once is required (`reglo-hub serve` is the sync that keeps "
                 "running)\nRun with --help for more information.\n";
    return reglo::app::kExitUsage;
  }

  reglo::app::ConfigureLogging(log_level);

  if (agent->parsed()) {
    reglo::Result<reglo::app::AgentConfig> loaded =
        reglo::app::LoadAgentConfig(agent_config.empty() ? config_path : agent_config);
    if (!loaded.ok()) {
      std::cerr << "error: " << loaded.status().ToString() << "\n";
      return reglo::app::kExitUsage;
    }
    if (reglo::Status keyed = reglo::app::InstallMaskingKey(loaded->secrets_file); !keyed.ok()) {
      return MaskingKeyFailure(keyed);
    }
    return reglo::app::RunAgent(*loaded, agent_once, std::cout, std::cerr);
  }

  reglo::Result<reglo::app::HubConfig> config = reglo::app::LoadConfig(config_path);
  if (!config.ok()) {
    std::cerr << "error: " << config.status().ToString() << "\n";
    return reglo::app::kExitUsage;
  }
  // Every command that masks personal data in what it prints or stores keys the fiscal-code hash
  // with the hub's master key file first (never a constant: core/masking.h).
  if (sync->parsed() || preview->parsed() || serve->parsed() || app.got_subcommand("relay")) {
    if (reglo::Status keyed = reglo::app::InstallMaskingKey(*config); !keyed.ok()) {
      return MaskingKeyFailure(keyed);
    }
  }
  if (sync->parsed()) {
    std::optional<std::string> source;
    if (!sync_source.empty()) source = sync_source;
    return reglo::app::SyncOnce(*config, source, reglo::SystemClock::Instance(), std::cout,
                                std::cerr);
  }
  if (preview->parsed()) {
    return reglo::app::PreviewSource(*config, preview_source, limit, from_cursor, std::cout,
                                     std::cerr);
  }
  if (plugins->parsed()) return reglo::app::ListPlugins(*config, std::cout, std::cerr);
  if (serve->parsed()) return reglo::app::Serve(std::move(*config), std::cout, std::cerr);
  if (keys_create->parsed()) {
    return reglo::app::CreateAgentKey(*config, key_company, key_source, key_cidrs, key_rate,
                                      key_burst, reglo::SystemClock::Instance(), std::cout,
                                      std::cerr);
  }
  if (app.got_subcommand("relay")) return reglo::app::RunRelay(*config, std::cout, std::cerr);
  const reglo::Clock& clock = reglo::SystemClock::Instance();
  if (subs_create->parsed()) {
    return reglo::app::CreateSubscriptionCommand(*config, sub_args, clock, std::cout, std::cerr);
  }
  if (subs->parsed() && subs->got_subcommand("list")) {
    return reglo::app::ListSubscriptionsCommand(*config, std::cout, std::cerr);
  }
  if (subs_enable->parsed() || subs_disable->parsed()) {
    return reglo::app::SetSubscriptionEnabledCommand(*config, sub_id, subs_enable->parsed(), clock,
                                                     std::cout, std::cerr);
  }
  if (subs_delete->parsed()) {
    return reglo::app::DeleteSubscriptionCommand(*config, sub_id, clock, std::cout, std::cerr);
  }
  if (deliveries_list->parsed()) {
    return reglo::app::ListDeliveriesCommand(*config, sub_id, delivery_status, delivery_limit,
                                             std::cout, std::cerr);
  }
  if (deliveries_redeliver->parsed()) {
    return reglo::app::RedeliverCommand(*config, sub_id, redeliver_sequences, redeliver_all_dead,
                                        clock, std::cout, std::cerr);
  }
  if (keys_list->parsed()) return reglo::app::ListAgentKeys(*config, std::cout, std::cerr);
  if (keys_revoke->parsed()) {
    return reglo::app::RevokeAgentKey(*config, key_prefix, reglo::SystemClock::Instance(),
                                      std::cout, std::cerr);
  }
  if (housekeep->parsed()) {
    return reglo::app::HousekeepCommand(*config, vacuum, clock, std::cout, std::cerr);
  }
  if (subject_export->parsed()) {
    return reglo::app::SubjectExportCommand(*config, subject_args, std::cout, std::cerr);
  }
  if (subject_erase->parsed()) {
    // The keyed hash of a codice fiscale, as logs show it, is scrubbed too.
    if (reglo::Status keyed = reglo::app::InstallMaskingKey(*config); !keyed.ok()) {
      return MaskingKeyFailure(keyed);
    }
    return reglo::app::SubjectEraseCommand(*config, subject_args, clock, std::cout, std::cerr);
  }
  if (admin_token_reset->parsed()) {
    return reglo::app::ResetAdminToken(*config, reglo::SystemClock::Instance(), std::cout,
                                       std::cerr);
  }
  if (admin_tokens_create->parsed()) {
    return reglo::app::CreateAdminTokenCommand(*config, admin_token_name, admin_token_role, clock,
                                               std::cout, std::cerr);
  }
  if (admin_tokens_list->parsed()) {
    return reglo::app::ListAdminTokensCommand(*config, std::cout, std::cerr);
  }
  if (admin_tokens_revoke->parsed()) {
    return reglo::app::RevokeAdminTokenCommand(*config, admin_token_name, clock, std::cout,
                                               std::cerr);
  }
  return reglo::app::Migrate(*config, std::cout, std::cerr);
}
