// HttpServer: the team dashboard and its read-only JSON API over HTTP/1.1,
// or over HTTPS only when given a certificate and its key.
//
// Serves, from one TrackingStore:
//   GET /api/...            read-only JSON (endpoints in http_api.h and the README)
//                           and a run's hardware handoff as a tar archive
//   GET / and /assets/...   the dashboard's static files from assets_dir, and
//                           Chart.js from chartjs_file at /assets/vendor/chart.js
//   GET /metrics            the metrics registry in the Prometheus text format
// With an authenticator every /api/ and /metrics request must carry
// "Authorization: Bearer TOKEN" with a token it knows, of any role (401
// otherwise); the dashboard's static files are public (the page asks for
// the token).
//
// The server runs on its own threads (a Boost.Asio io_context, Boost.Beast
// sessions with keep-alive, a read timeout, header and body limits); a bad
// request gets a 4xx answer and never takes the server down. Store calls run
// on those threads, so a slow store slows the dashboard, never the caller.
// With TLS (1.2 or later) a connection whose handshake fails or takes over
// 10 s is closed, unanswered.
//
// Thread safety: start() returns a running server; port() may be called from
// any thread; stop() (also run by the destructor) is idempotent, must not be
// called from a server thread, and returns when every server thread has
// ended. `store` must outlive the server. Not copyable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "core/status.h"
#include "server/auth/authenticator.h"
#include "store/tracking_store.h"

namespace agnx::server {

class LibraryRegistry;
class MetricsRegistry;

struct HttpOptions {
  // "host:port" (IPv6 hosts in brackets: "[::1]:8080"); port 0 picks an
  // ephemeral port, which port() reports.
  std::string listen = "127.0.0.1:8080";
  // The dashboard's files; empty: default_assets_dir(), i.e. the installed
  // PREFIX/share/agnx/assets if the executable runs from PREFIX/bin, else the
  // source tree's server/http/assets.
  std::filesystem::path assets_dir;
  // Chart.js (UMD build); empty: Debian's libjs-chart.js file found at build time.
  std::filesystem::path chartjs_file;
  // The bearer tokens the API accepts (shared with the gRPC server, so a
  // reload applies to both); null: no authentication.
  std::shared_ptr<const Authenticator> authenticator;
  // The libraries runs were matched against, for /api/runs/{id}/export;
  // null: that endpoint answers 404. Must outlive the server.
  const LibraryRegistry* libraries = nullptr;
  // What GET /metrics renders (server/observability/metrics.h); null: that
  // path answers 404. Must outlive the server.
  const MetricsRegistry* metrics = nullptr;
  // TLS: a PEM certificate chain and its unencrypted PEM private key, both
  // or neither; empty: plain HTTP.
  std::filesystem::path tls_cert_file, tls_key_file;
  // Threads running the io_context (>= 1).
  std::size_t threads = 2;
  // Open connections at most (>= 1); further ones are closed on accept. Idle
  // connections close after 30 s.
  std::size_t max_connections = 256;
};

// The defaults that empty HttpOptions paths resolve to.
std::filesystem::path default_assets_dir();
std::filesystem::path default_chartjs_file();

class HttpServer {
 public:
  // Binds, listens and starts serving. Errors: a malformed `listen`
  // (kInvalidArgument), an address that cannot be bound (kIoError, with the
  // system's message), a missing assets_dir (kNotFound), threads or
  // max_connections == 0 (kInvalidArgument), a TLS file that cannot be read,
  // is not PEM or holds a key not of the certificate (kInvalidArgument,
  // naming the file), only one of the two TLS files (kInvalidArgument).
  static Result<std::unique_ptr<HttpServer>> start(store::TrackingStore& store, const HttpOptions& options);

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  ~HttpServer();

  // The bound TCP port.
  uint16_t port() const;
  // Closes the listener and every connection and joins the threads.
  void stop();

  class Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace agnx::server
