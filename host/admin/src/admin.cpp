#include "reglo/admin/admin.h"

#include <utility>

namespace reglo::admin {

Result<std::unique_ptr<http::Server>> StartAdminServer(AdminOptions options, AdminDeps deps) {
  http::ServerOptions server_options;
  server_options.name = "admin";
  server_options.address = options.address;
  server_options.port = options.port;
  server_options.connections = options.connections;
  return http::Server::Start(server_options, BuildAdminRouter(std::move(options), deps));
}

}  // namespace reglo::admin
