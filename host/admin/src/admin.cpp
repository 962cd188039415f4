#include "reglo/admin/admin.h"

#include "reglo/http/server.h"

namespace reglo::admin {

struct AdminServer::Impl {
  std::unique_ptr<http::Server> server;
};

Result<std::unique_ptr<AdminServer>> AdminServer::Start(const AdminOptions& options,
                                                        AdminDeps deps) {
  http::ServerOptions server_options;
  server_options.name = "admin";
  server_options.address = options.address;
  server_options.port = options.port;
  server_options.connections = options.connections;
  Result<std::unique_ptr<http::Server>> server =
      http::Server::Start(server_options, BuildAdminRouter(options, deps));
  if (!server.ok()) return server.status();
  auto impl = std::make_unique<Impl>();
  impl->server = std::move(*server);
  return std::unique_ptr<AdminServer>(new AdminServer(std::move(impl)));
}

AdminServer::AdminServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AdminServer::~AdminServer() {
  Stop();
}

uint16_t AdminServer::port() const {
  return impl_->server->port();
}

std::string AdminServer::url() const {
  return impl_->server->url() + "/";
}

const http::Server& AdminServer::listener() const {
  return *impl_->server;
}

void AdminServer::Stop() {
  impl_->server->Stop();
}

}  // namespace reglo::admin
