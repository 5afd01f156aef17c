#include "server/http/http_server.h"

#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

#include <openssl/ssl.h>
#include <unistd.h>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "server/http/http_api.h"

namespace agnx::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

namespace {

constexpr std::size_t kHeaderLimit = 16 * 1024;  // larger headers get 431
constexpr std::size_t kBodyLimit = 64 * 1024;    // the API takes no bodies
constexpr auto kIdleTimeout = std::chrono::seconds(30);
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
constexpr auto kDrainTimeout = std::chrono::seconds(2);  // reading the rest of a refused request
constexpr std::size_t kDrainLimit = 4 * 1024 * 1024;

// One connection over a Stream, beast::tcp_stream (HTTP) or TlsStream
// (HTTPS): the TLS handshake if any, then read a request, answer it, repeat
// while keep-alive.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  // `open_sessions` counts live sessions (this one included) for the
  // connection limit; `stream_args` construct the Stream.
  template <class... StreamArgs>
  Session(const DashboardHandler& handler, std::atomic<std::size_t>& open_sessions, StreamArgs&&... stream_args)
      : stream_(std::forward<StreamArgs>(stream_args)...), handler_(handler), open_sessions_(open_sessions) {}
  ~Session() { --open_sessions_; }

  void run() {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      tcp_stream().expires_after(kHandshakeTimeout);
      stream_.async_handshake(asio::ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code ec) {
        if (ec) return self->close();  // not TLS, no common version or cipher, too slow
        self->read();
      });
    } else {
      read();
    }
  }

 private:
  beast::tcp_stream& tcp_stream() { return beast::get_lowest_layer(stream_); }

  void read() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(kBodyLimit);
    tcp_stream().expires_after(kIdleTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted) {
      return close();
    }
    if (ec == http::error::header_limit) return reply_error(431, "request headers exceed 16 KiB");
    if (ec == http::error::body_limit) return reply_error(413, "request body exceeds 64 KiB");
    if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
      return reply_error(400, "malformed HTTP request: " + ec.message());
    }
    if (ec) return close();  // reset by peer and the like

    const auto& request = parser_->get();
    HttpRequest in;
    in.method = std::string(request.method_string());
    in.target = std::string(request.target());
    if (const auto auth = request.find(http::field::authorization); auth != request.end()) {
      in.authorization = std::string(auth->value());
    }
    HttpResponse out;
    try {
      out = handler_.handle(in);
    } catch (const std::exception& e) {  // e.g. bad_alloc, or JSON of invalid UTF-8
      out = json_error(500, std::string("internal error: ") + e.what());
    }
    write(std::move(out), request.keep_alive(), request.version());
  }

  // Answers a request that cannot be read any further, then closes. The rest
  // of the request is read and dropped first: closing a socket with unread
  // input resets the connection, and the client could lose the answer.
  void reply_error(unsigned status, const std::string& message) {
    drain_ = true;
    write(json_error(status, message), false, 11);
  }

  void drain() {
    tcp_stream().expires_after(kDrainTimeout);
    stream_.async_read_some(asio::buffer(drain_buffer_), [self = this->shared_from_this()](beast::error_code ec,
                                                                                          std::size_t n) {
      self->drained_ += n;
      if (ec || self->drained_ > kDrainLimit) return self->close();
      self->drain();
    });
  }

  void write(HttpResponse out, bool keep_alive, unsigned version) {
    response_ = {};
    response_.version(version);
    response_.result(out.status);
    response_.set(http::field::server, "agnx-dashboard");
    response_.set(http::field::content_type, out.content_type);
    response_.set("X-Content-Type-Options", "nosniff");
    for (const auto& [name, value] : out.headers) response_.set(name, value);
    response_.keep_alive(keep_alive);
    response_.body() = std::move(out.body);
    response_.prepare_payload();
    tcp_stream().expires_after(kIdleTimeout);
    http::async_write(stream_, response_, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      if (!ec && self->drain_) {
        beast::error_code ignored;
        self->tcp_stream().socket().shutdown(tcp::socket::shutdown_send, ignored);
        return self->drain();
      }
      if (ec || !self->response_.keep_alive()) return self->close();
      self->read();
    });
  }

  // Over TLS too a TCP close, with no close_notify: every answer carries its
  // length, so a client cannot take a cut answer for a whole one.
  void close() {
    beast::error_code ignored;
    tcp_stream().socket().shutdown(tcp::socket::shutdown_send, ignored);
    tcp_stream().close();
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  const DashboardHandler& handler_;
  std::atomic<std::size_t>& open_sessions_;
  bool drain_ = false;
  std::size_t drained_ = 0;
  std::array<char, 8192> drain_buffer_;
};

Result<tcp::endpoint> parse_listen(const std::string& listen) {
  const std::size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return Status::invalid_argument("listen address '" + listen + "' is not host:port");
  }
  std::string host = listen.substr(0, colon);
  const std::string port_text = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host == "localhost") host = "127.0.0.1";
  unsigned port = 0;
  const auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || error != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    return Status::invalid_argument("listen address '" + listen + "': port '" + port_text + "' is not in [0, 65535]");
  }
  beast::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return Status::invalid_argument("listen address '" + listen + "': '" + host + "' is not an IP address");
  return tcp::endpoint(address, static_cast<uint16_t>(port));
}

// The HTTPS context of `options`' TLS files (TLS 1.2 or later); none
// without them.
Result<std::optional<asio::ssl::context>> tls_context(const HttpOptions& options) {
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return Status::invalid_argument("dashboard TLS needs both a certificate and a key file");
  }
  if (options.tls_cert_file.empty()) return std::optional<asio::ssl::context>();
  std::optional<asio::ssl::context> context(std::in_place, asio::ssl::context::tls_server);
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  for (const auto& [what, file] : {std::pair{"certificate", &options.tls_cert_file}, {"key", &options.tls_key_file}}) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(*file, ec) || ::access(file->c_str(), R_OK) != 0) {
      return Status::invalid_argument(std::string("dashboard TLS ") + what + " " + file->string() +
                                      ": cannot read the file");
    }
  }
  beast::error_code ec;
  context->use_certificate_chain_file(options.tls_cert_file.string(), ec);
  if (ec) {
    return Status::invalid_argument("dashboard TLS certificate " + options.tls_cert_file.string() +
                                    ": no PEM certificate chain (" + ec.message() + ")");
  }
  context->use_private_key_file(options.tls_key_file.string(), asio::ssl::context::pem, ec);
  if (ec || SSL_CTX_check_private_key(context->native_handle()) != 1) {
    return Status::invalid_argument("dashboard TLS key " + options.tls_key_file.string() +
                                    ": not an unencrypted PEM private key of the certificate " +
                                    options.tls_cert_file.string());
  }
  return context;
}

}  // namespace

// An installed server (`cmake --install`) finds its assets at
// BINDIR/../DATADIR/agnx/assets next to its own executable, wherever the prefix
// is; a server run from the build tree uses the source tree's.
std::filesystem::path default_assets_dir() {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const std::filesystem::path installed = self.parent_path().parent_path() / AGNX_HTTP_INSTALLED_ASSETS_DIR;
    if (std::filesystem::is_directory(installed, ec)) return installed;
  }
  return AGNX_HTTP_ASSETS_DIR;
}
std::filesystem::path default_chartjs_file() { return AGNX_CHARTJS_FILE; }

class HttpServer::Impl {
 public:
  Impl(store::TrackingStore& store, HttpOptions options, std::optional<asio::ssl::context> tls)
      : handler_(store, options), acceptor_(io_), options_(std::move(options)), tls_(std::move(tls)) {}

  Status listen(const tcp::endpoint& endpoint) {
    beast::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Status::io_error("cannot listen on " + options_.listen + ": " + ec.message());
    port_ = acceptor_.local_endpoint().port();
    return Status();
  }

  void run() {
    accept();
    for (std::size_t i = 0; i < options_.threads; ++i) threads_.emplace_back([this] { io_.run(); });
  }

  void stop() {
    std::lock_guard lock(stop_mutex_);
    if (threads_.empty()) return;
    asio::post(io_, [this] {
      beast::error_code ignored;
      acceptor_.close(ignored);
    });
    io_.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  uint16_t port() const { return port_; }

 private:
  void accept() {
    acceptor_.async_accept(asio::make_strand(io_), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
      if (!ec) {
        if (open_sessions_.load() >= options_.max_connections) {
          // Over the limit: refuse this connection, keep serving the others.
          beast::error_code ignored;
          socket.close(ignored);
        } else {
          ++open_sessions_;
          start_session(std::move(socket));
        }
      }
      accept();  // a failed accept (e.g. too many files) must not end the server
    });
  }

  void start_session(tcp::socket socket) {
    if (tls_) {
      std::make_shared<Session<TlsStream>>(handler_, open_sessions_, std::move(socket), *tls_)->run();
    } else {
      std::make_shared<Session<beast::tcp_stream>>(handler_, open_sessions_, std::move(socket))->run();
    }
  }

  DashboardHandler handler_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  HttpOptions options_;
  std::optional<asio::ssl::context> tls_;  // HTTPS only, if set
  uint16_t port_ = 0;
  std::vector<std::thread> threads_;
  std::mutex stop_mutex_;
  std::atomic<std::size_t> open_sessions_ = 0;
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::start(store::TrackingStore& store, const HttpOptions& options) {
  if (options.threads == 0) return Status::invalid_argument("http threads must be >= 1");
  if (options.max_connections == 0) return Status::invalid_argument("http max_connections must be >= 1");
  HttpOptions resolved = options;
  if (resolved.assets_dir.empty()) resolved.assets_dir = default_assets_dir();
  if (resolved.chartjs_file.empty()) resolved.chartjs_file = default_chartjs_file();
  std::error_code ec;
  if (!std::filesystem::is_directory(resolved.assets_dir, ec)) {
    return Status::not_found("dashboard assets directory '" + resolved.assets_dir.string() + "' does not exist");
  }
  AGNX_ASSIGN_OR_RETURN(const tcp::endpoint endpoint, parse_listen(resolved.listen));
  AGNX_ASSIGN_OR_RETURN(std::optional<asio::ssl::context> tls, tls_context(resolved));
  auto impl = std::make_unique<Impl>(store, resolved, std::move(tls));
  AGNX_RETURN_IF_ERROR(impl->listen(endpoint));
  impl->run();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

uint16_t HttpServer::port() const { return impl_->port(); }

void HttpServer::stop() {
  if (impl_) impl_->stop();
}

}  // namespace agnx::server
