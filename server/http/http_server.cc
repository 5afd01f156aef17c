#include "server/http/http_server.h"

#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "server/http/http_api.h"

namespace agnx::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::size_t kHeaderLimit = 16 * 1024;  // larger headers get 431
constexpr std::size_t kBodyLimit = 64 * 1024;    // the API takes no bodies
constexpr auto kIdleTimeout = std::chrono::seconds(30);
constexpr auto kDrainTimeout = std::chrono::seconds(2);  // reading the rest of a refused request
constexpr std::size_t kDrainLimit = 4 * 1024 * 1024;

// One connection: read a request, answer it, repeat while keep-alive.
class Session : public std::enable_shared_from_this<Session> {
 public:
  // `open_sessions` counts live sessions (this one included) for the connection limit.
  Session(tcp::socket socket, const DashboardHandler& handler, std::atomic<std::size_t>& open_sessions)
      : stream_(std::move(socket)), handler_(handler), open_sessions_(open_sessions) {}
  ~Session() { --open_sessions_; }

  void run() { read(); }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(kBodyLimit);
    stream_.expires_after(kIdleTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
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
    stream_.expires_after(kDrainTimeout);
    stream_.async_read_some(asio::buffer(drain_buffer_), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
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
    stream_.expires_after(kIdleTimeout);
    http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (!ec && self->drain_) {
        beast::error_code ignored;
        self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
        return self->drain();
      }
      if (ec || !self->response_.keep_alive()) return self->close();
      self->read();
    });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
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
  Impl(store::TrackingStore& store, HttpOptions options)
      : handler_(store, options), acceptor_(io_), options_(std::move(options)) {}

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
          std::make_shared<Session>(std::move(socket), handler_, open_sessions_)->run();
        }
      }
      accept();  // a failed accept (e.g. too many files) must not end the server
    });
  }

  DashboardHandler handler_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  HttpOptions options_;
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
  auto impl = std::make_unique<Impl>(store, resolved);
  AGNX_RETURN_IF_ERROR(impl->listen(endpoint));
  impl->run();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

uint16_t HttpServer::port() const { return impl_->port(); }

void HttpServer::stop() {
  if (impl_) impl_->stop();
}

}  // namespace agnx::server
