// Certificates for TLS tests, made at test time with the openssl command
// line (Debian's openssl, scripts/setup.sh): in a directory `dir`,
//   ca.pem, ca.key               a CA (CN agnx-test-ca)
//   server.pem, server.key       a server certificate it signs, for
//                                IP 127.0.0.1 and DNS localhost
//   other-ca.pem, other-ca.key   an unrelated CA
// All EC P-256 keys, unencrypted, valid for one day.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace agnx::testing {

// True if the openssl command is on the PATH (tests skip otherwise).
inline bool have_openssl_command() { return std::system("command -v openssl >/dev/null 2>&1") == 0; }

// Writes the files above into `dir`; false if a command failed.
inline bool make_test_certificates(const std::filesystem::path& dir) {
  const std::string d = dir.string() + "/";
  std::ofstream(d + "server.ext") << "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                                     "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n";
  const std::string key = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  const std::string commands[] = {
      "openssl req -x509" + key + " -keyout " + d + "ca.key -out " + d + "ca.pem -days 1 -subj /CN=agnx-test-ca",
      "openssl req -x509" + key + " -keyout " + d + "other-ca.key -out " + d + "other-ca.pem -days 1 -subj /CN=other",
      "openssl req" + key + " -keyout " + d + "server.key -out " + d + "server.csr -subj /CN=localhost",
      "openssl x509 -req -in " + d + "server.csr -CA " + d + "ca.pem -CAkey " + d + "ca.key -CAcreateserial -out " +
          d + "server.pem -days 1 -extfile " + d + "server.ext",
  };
  for (const std::string& command : commands) {
    if (std::system((command + " >/dev/null 2>&1").c_str()) != 0) return false;
  }
  return true;
}

}  // namespace agnx::testing
