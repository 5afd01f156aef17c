// A tiny blocking HTTP/1.1 client over a raw loopback socket, for tests and
// benchmarks of the dashboard server: one request per connection
// ("Connection: close"), the reply read until the server closes.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace agnx::testing {

struct HttpReply {
  int status = 0;                             // 0: no parseable reply
  std::map<std::string, std::string> headers; // names lower-cased
  std::string body;
};

// Sends `raw` bytes to 127.0.0.1:port and parses what comes back.
inline HttpReply http_raw(uint16_t port, const std::string& raw) {
  HttpReply reply;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return reply;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return reply;
  }
  for (std::size_t sent = 0; sent < raw.size();) {
    const ssize_t n = ::send(fd, raw.data() + sent, raw.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may answer (431) and close before reading everything
    sent += static_cast<std::size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  std::string in;
  char buffer[65536];
  while (true) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    in.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);

  const std::size_t header_end = in.find("\r\n\r\n");
  if (in.rfind("HTTP/1.", 0) != 0 || header_end == std::string::npos) return reply;
  reply.status = std::stoi(in.substr(9, 3));
  std::size_t line = in.find("\r\n") + 2;
  while (line < header_end) {
    const std::size_t next = in.find("\r\n", line);
    const std::string header = in.substr(line, next - line);
    const std::size_t colon = header.find(':');
    if (colon != std::string::npos) {
      std::string name = header.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::size_t value = colon + 1;
      while (value < header.size() && header[value] == ' ') ++value;
      reply.headers[name] = header.substr(value);
    }
    line = next + 2;
  }
  reply.body = in.substr(header_end + 4);
  return reply;
}

// GET `target` (already percent-encoded), optionally with an Authorization header.
inline HttpReply http_get(uint16_t port, const std::string& target, const std::string& authorization = "") {
  std::string request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (!authorization.empty()) request += "Authorization: " + authorization + "\r\n";
  return http_raw(port, request + "\r\n");
}

// Percent-encodes a query value.
inline std::string url_encode(const std::string& text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace agnx::testing
