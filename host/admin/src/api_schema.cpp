// The admin API's schema area: the canonical model's JSON Schemas (draft 2020-12), one per
// entity, as reglo-schema-doc writes them and docs/canonical-model.md describes them, so a vendor
// can check its mapping against the very hub it will push to.
#include <fmt/format.h>

#include "api_common.h"
#include "reglo/core/text.h"
#include "reglo/model/schema_doc.h"

namespace reglo::admin::api {

Response ListSchemas(ApiContext&, const Request&) {
  json items = json::array();
  for (const model::EntitySpec& entity : model::CanonicalEntities()) {
    items.push_back(json::parse(model::EntityJsonSchema(entity)));
  }
  return Json(200, {{"items", items}});
}

Response GetSchema(ApiContext&, const Request& request) {
  const std::string name = request.Param("entity").value_or("");
  const model::EntitySpec* entity = model::FindEntity(name);
  if (!entity) return NotFound(fmt::format("no entity '{}'", Excerpt(name)));
  return Json(200, json::parse(model::EntityJsonSchema(*entity)));
}

}  // namespace reglo::admin::api
