// deploy/: the systemd unit passes `systemd-analyze verify`; agnx-health
// answers 0 for a live server and 1 for a closed port; an agnx-server laid out
// as installed (PREFIX/bin, PREFIX/share/agnx/assets) serves the installed
// dashboard files; SIGTERM stops the server cleanly.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/support/http_client.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

namespace agnx {
namespace {

const std::filesystem::path kSource = AGNX_SOURCE_DIR;

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

CommandResult run(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  while (const std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) result.output.append(buffer, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A loopback TCP port that nothing listens on (bound, then released).
uint16_t closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

TEST(SystemdUnit, VerifiesWithoutWarnings) {
  const auto analyze = run("command -v systemd-analyze");
  if (analyze.exit_code != 0) GTEST_SKIP() << "systemd-analyze not found (Debian package systemd): unit not verified";
  // verify wants ExecStart's binary to exist: point it at the built one.
  std::string unit = read_file(kSource / "deploy/agnx-server.service");
  ASSERT_FALSE(unit.empty());
  const std::string installed = "/usr/local/bin/agnx-server";
  ASSERT_NE(unit.find(installed), std::string::npos);
  for (std::size_t at; (at = unit.find(installed)) != std::string::npos;) unit.replace(at, installed.size(), AGNX_SERVER_BINARY);
  testing::TempDir dir;
  const auto copy = dir.path() / "agnx-server.service";
  std::ofstream(copy) << unit;
  const CommandResult verified = run("systemd-analyze verify " + copy.string());
  EXPECT_EQ(verified.exit_code, 0) << verified.output;
  // Warnings about the unit name it; other units of the host are not ours to judge.
  std::istringstream lines(verified.output);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_EQ(line.find("agnx-server"), std::string::npos) << line;
  }
}

TEST(SystemdUnit, HasTheHardening) {
  const std::string unit = read_file(kSource / "deploy/agnx-server.service");
  for (const char* line :
       {"User=agnx", "StateDirectory=agnx", "ProtectSystem=strict", "ReadWritePaths=/var/lib/agnx", "NoNewPrivileges=yes",
        "PrivateTmp=yes", "ProtectHome=yes", "ProtectKernelTunables=yes", "ProtectKernelModules=yes",
        "ProtectControlGroups=yes", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "LockPersonality=yes",
        "SystemCallFilter=@system-service", "Restart=on-failure", "EnvironmentFile=-/etc/agnx/agnx-server.env",
        "KillSignal=SIGTERM", "TimeoutStopSec=",
        "ExecStart=/usr/local/bin/agnx-server --listen ${AGNX_LISTEN} --data-dir /var/lib/agnx --workers ${AGNX_WORKERS}"}) {
    EXPECT_NE(unit.find(std::string("\n") + line), std::string::npos) << line;
  }
  EXPECT_EQ(unit.find("\nDynamicUser="), std::string::npos);
  EXPECT_EQ(unit.find("\nMemoryDenyWriteExecute="), std::string::npos);
}

TEST(HealthProbe, ServingServerAnswersZero) {
  testing::TempDir dir;
  auto server = testing::ServerProcess::start(AGNX_SERVER_BINARY, dir.path() / "data");
  ASSERT_TRUE(server.ok()) << server.status().to_string();
  const auto probe = run(std::string(AGNX_HEALTH_BINARY) + " --timeout 10 " + (*server)->address());
  EXPECT_EQ(probe.exit_code, 0) << probe.output;
  EXPECT_NE(probe.output.find("SERVING"), std::string::npos) << probe.output;
}

TEST(HealthProbe, ClosedPortAnswersOne) {
  const auto probe = run(std::string(AGNX_HEALTH_BINARY) + " --timeout 1 127.0.0.1:" + std::to_string(closed_port()));
  EXPECT_EQ(probe.exit_code, 1) << probe.output;
  const auto usage = run(std::string(AGNX_HEALTH_BINARY) + " --timeout 1");
  EXPECT_EQ(usage.exit_code, 1) << usage.output;
}

// systemd (KillSignal=SIGTERM) and docker stop rely on this: the server shuts
// down cleanly and exits 0, whichever of its threads the signal lands on.
TEST(Shutdown, SigtermExitsCleanly) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    testing::TempDir dir;
    auto server = testing::ServerProcess::start(AGNX_SERVER_BINARY, dir.path() / "data");
    ASSERT_TRUE(server.ok()) << server.status().to_string();
    const int status = (*server)->kill_and_wait(SIGTERM);
    ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
}

TEST(Install, ServerFindsInstalledAssets) {
  // PREFIX/bin/agnx-server (with agnx-worker) and PREFIX/share/agnx/assets, as `cmake --install` lays them out.
  testing::TempDir prefix;
  std::filesystem::create_directories(prefix.path() / "bin");
  std::filesystem::copy_file(AGNX_SERVER_BINARY, prefix.path() / "bin/agnx-server");
  std::filesystem::copy_file(AGNX_WORKER_BINARY, prefix.path() / "bin/agnx-worker");
  const auto assets = prefix.path() / AGNX_INSTALLED_ASSETS_DIR;
  std::filesystem::create_directories(assets);
  std::filesystem::copy(kSource / "server/http/assets", assets);
  std::ofstream(assets / "installed-marker.txt") << "installed";
  const uint16_t http_port = closed_port();
  auto server = testing::ServerProcess::start((prefix.path() / "bin/agnx-server").string(), prefix.path() / "data",
                                              {"--http", "127.0.0.1:" + std::to_string(http_port)});
  ASSERT_TRUE(server.ok()) << server.status().to_string();
  const auto reply = testing::http_get(http_port, "/assets/installed-marker.txt");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "installed");
}

}  // namespace
}  // namespace agnx
