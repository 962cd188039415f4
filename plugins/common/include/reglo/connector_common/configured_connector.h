// The part of a configured connector (csv, sql, http) that its per-entity configuration decides
// alone: create from the parsed Config, one stream per configured entity, map_to_canonical through
// the entity's RecordMapper. Header-only over the C++ SDK. The connector owns its Config and the
// mappers that point into it. Thread-safety: like any connector, one thread at a time.
#pragma once

#include <memory>
#include <optional>
#include <reglo/connector.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reglo/connector_common/config_json.h"
#include "reglo/connector_common/record_mapper.h"

namespace reglo::connector_common {

// Base of the connector class Self (CRTP). Config holds `entities` (each with `entity`, its
// canonical name, and `mapping`) and `remarks`. Self gives the SDK's descriptor constants other
// than kVendor and kEntities, a constructor from Config that this base may call, and
//   static std::optional<Config> Parse(std::string_view json, std::string* error);
template <class Self, class Config>
class ConfiguredConnector : public sdk::Connector {
 public:
  // The bundled connectors are Reglo's, and each may be configured for any canonical entity.
  static constexpr const char* kVendor = "Reglo";
  static constexpr auto kEntities = kCanonicalEntities;

  // A configuration that does not parse is thrown as CONFIG_ERROR (the SDK makes that create's
  // answer); what it accepted but finds suspicious goes to the run log as warnings.
  static std::unique_ptr<Self> Create(const sdk::Context& ctx, std::string_view json) {
    std::string error;
    std::optional<Config> config = Self::Parse(json, &error);
    if (!config) throw sdk::Failure(sdk::Status::ConfigError(error));
    for (const std::string& remark : config->remarks) ctx.Warn(remark);
    return std::unique_ptr<Self>(new Self(std::move(*config)));
  }

  std::vector<std::string> Streams(const sdk::Context&) override {
    std::vector<std::string> streams;
    for (const auto& entity : config_.entities) streams.push_back(entity.entity);
    return streams;
  }

  sdk::Status Map(const sdk::Context&, const sdk::RecordView& source,
                  sdk::CanonicalSink& sink) override {
    const int index = EntityIndex(source.entity());
    if (index < 0) {
      return sdk::Status::Fatal("map_to_canonical: this source does not read entity '" +
                                std::string(source.entity()) + "'");
    }
    return mappers_[static_cast<size_t>(index)]->Map(source, sink);
  }

 protected:
  explicit ConfiguredConnector(Config config) : config_(std::move(config)) {
    // config_ no longer moves, so the mappers may point into it.
    for (const auto& entity : config_.entities) {
      mappers_.push_back(std::make_unique<RecordMapper>(entity.mapping));
    }
  }

  // The position in config_.entities of the entity (and stream) `name`; -1 when not configured.
  int EntityIndex(std::string_view name) const {
    for (size_t i = 0; i < config_.entities.size(); ++i) {
      if (config_.entities[i].entity == name) return static_cast<int>(i);
    }
    return -1;
  }

  Config config_;
  std::vector<std::unique_ptr<RecordMapper>> mappers_;  // parallel to config_.entities
};

}  // namespace reglo::connector_common
