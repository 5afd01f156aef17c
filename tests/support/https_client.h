// A tiny HTTPS client for tests of the dashboard: one GET per connection
// over TLS (Boost.Beast over OpenSSL), the server's certificate verified
// against a CA file and the name 127.0.0.1, every step under a deadline.
// Links Boost::headers and OpenSSL::SSL.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

#include "tests/support/http_client.h"

namespace agnx::testing {

// GET `target` from https://127.0.0.1:port, optionally with an Authorization
// header, trusting only the certificates in `ca_file`. Returns the reply, or
// status 0 when there is none (refused handshake, failed verification, no
// HTTP answer, 5 s passed), with what went wrong in *error if given.
inline HttpReply https_get(uint16_t port, const std::filesystem::path& ca_file, const std::string& target,
                           const std::string& authorization = "", std::string* error = nullptr) {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace http = beast::http;
  HttpReply reply;
  std::string failure;
  asio::io_context io;
  asio::ssl::context tls(asio::ssl::context::tls_client);
  beast::error_code ec;
  tls.load_verify_file(ca_file.string(), ec);
  beast::ssl_stream<beast::tcp_stream> stream(io, tls);
  stream.set_verify_mode(asio::ssl::verify_peer);
  stream.set_verify_callback(asio::ssl::host_name_verification("127.0.0.1"));
  http::request<http::empty_body> request(http::verb::get, target, 11);
  request.set(http::field::host, "127.0.0.1");
  if (!authorization.empty()) request.set(http::field::authorization, authorization);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  if (ec) {
    failure = "CA file " + ca_file.string() + ": " + ec.message();
  } else {
    // Connect, handshake, write, read: each step starts the next unless it failed.
    auto& tcp = beast::get_lowest_layer(stream);
    tcp.expires_after(std::chrono::seconds(5));  // for every step still to come
    const asio::ip::tcp::endpoint server(asio::ip::make_address("127.0.0.1"), port);
    tcp.async_connect(server, [&](beast::error_code connected) {
      if ((ec = connected)) return;
      stream.async_handshake(asio::ssl::stream_base::client, [&](beast::error_code shaken) {
        if ((ec = shaken)) return;
        http::async_write(stream, request, [&](beast::error_code written, std::size_t) {
          if ((ec = written)) return;
          http::async_read(stream, buffer, response, [&](beast::error_code read, std::size_t) { ec = read; });
        });
      });
    });
    io.run();
    if (ec) failure = ec.message();
  }
  if (error != nullptr) *error = failure;
  if (!failure.empty()) return reply;
  reply.status = static_cast<int>(response.result_int());
  for (const auto& field : response) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    reply.headers[name] = std::string(field.value());
  }
  reply.body = std::move(response.body());
  return reply;
}

}  // namespace agnx::testing
