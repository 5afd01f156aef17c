// server/auth/: the tokens file (parsing, errors that never quote a token,
// file permissions), constant-time lookups, bearer values, reloads, the
// method role table against the API's service descriptors, the call check
// and the loopback rule's address test.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <set>
#include <thread>

#include "agnapprox/v1/agnx.pb.h"
#include "server/auth/authenticator.h"
#include "server/auth/grpc_auth.h"
#include "server/auth/method_roles.h"
#include "server/auth/server_security.h"
#include "server/auth/token_table.h"
#include "tests/support/temp_dir.h"

namespace agnx::server {
namespace {

constexpr const char* kReaderToken = "rt-0123456789abcdef";
constexpr const char* kWriterToken = "wt-0123456789abcdef";
constexpr const char* kAdminToken = "at-0123456789abcdef";

TokenTable three_roles() {
  auto table = TokenTable::parse(std::string("# the team\n\n") + kReaderToken + " rita reader\n" + kWriterToken +
                                     "\twalt\twriter\r\n   " + kAdminToken + "  ada  admin  \n",
                                 "tokens");
  EXPECT_TRUE(table.ok()) << table.status().to_string();
  return std::move(table).value();
}

TEST(TokenTable, FindsUsersAndRolesOfWholeTokensOnly) {
  const TokenTable table = three_roles();
  EXPECT_EQ(table.size(), 3u);
  const auto walt = table.find(kWriterToken);
  ASSERT_TRUE(walt.has_value());
  EXPECT_EQ(walt->user, "walt");
  EXPECT_EQ(walt->role, Role::kWriter);
  EXPECT_EQ(table.find(kAdminToken)->role, Role::kAdmin);
  EXPECT_EQ(table.find(kReaderToken)->user, "rita");
  const std::string token = kReaderToken;
  EXPECT_FALSE(table.find(token.substr(0, token.size() - 1)).has_value());
  EXPECT_FALSE(table.find(token + "0").has_value());
  EXPECT_FALSE(table.find("").has_value());
  EXPECT_FALSE(table.find("rita").has_value());
}

TEST(TokenTable, ErrorsNameTheFileAndLineButNeverAField) {
  const std::string secret = "s3cret-token-never-logged";
  const struct {
    std::string text;
    std::string expected;
  } cases[] = {
      {"# comment\n" + secret + " alice\n", "tokens.txt:2: expected three fields"},
      {secret + " alice writer extra\n", "tokens.txt:1: expected three fields"},
      {"short-token alice writer\n", "tokens.txt:1: the token must be at least 16"},
      {"#" + secret + "x alice writer\n" + secret + " alice\n", "tokens.txt:2: expected three fields"},
      {secret + " al/ice writer\n", "tokens.txt:1: the user name"},
      {"alice writer " + secret + "\n", "tokens.txt:1: the token must be"},
      {secret + " alice " + secret + "\n", "tokens.txt:1: the role must be reader, writer or admin"},
      {secret + " alice Writer\n", "tokens.txt:1: the role must be"},
      {secret + " alice writer\n\n" + secret + " bob reader\n", "tokens.txt:3: the same token as line 1"},
      {"# nothing but comments\n\n", "tokens.txt: no tokens"},
  };
  for (const auto& c : cases) {
    const auto table = TokenTable::parse(c.text, "tokens.txt");
    ASSERT_FALSE(table.ok()) << c.text;
    EXPECT_EQ(table.status().code(), StatusCode::kInvalidArgument);
    const std::string message = table.status().message();
    EXPECT_EQ(message.rfind(c.expected, 0), 0u) << message;
    EXPECT_EQ(message.find(secret), std::string::npos) << message;
    EXPECT_EQ(message.find("alice"), std::string::npos) << message;
  }
}

TEST(TokenTable, LoadRefusesAFileOthersMayRead) {
  testing::TempDir dir;
  const auto path = dir.path() / "tokens";
  std::ofstream(path) << kWriterToken << " walt writer\n";
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  auto table = TokenTable::load(path);
  ASSERT_FALSE(table.ok());
  EXPECT_EQ(table.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(table.status().message().find(path.string() + ": others may read or write it (mode 0644)"),
            std::string::npos)
      << table.status().message();

  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);  // owner and group (the service's) only
  table = TokenTable::load(path);
  ASSERT_TRUE(table.ok()) << table.status().to_string();
  EXPECT_EQ(table->find(kWriterToken)->user, "walt");

  table = TokenTable::load(dir.path() / "missing");
  ASSERT_FALSE(table.ok());
  EXPECT_EQ(table.status().code(), StatusCode::kIoError);
  EXPECT_NE(table.status().message().find("missing: cannot read the tokens file"), std::string::npos);
}

TEST(Authenticator, TakesBearerValuesOnly) {
  EXPECT_EQ(bearer_token("Bearer abc"), "abc");
  EXPECT_EQ(bearer_token("bearer abc"), "abc");
  EXPECT_FALSE(bearer_token("Basic abc").has_value());
  EXPECT_FALSE(bearer_token("Bearer ").has_value());
  EXPECT_FALSE(bearer_token("").has_value());
  EXPECT_FALSE(bearer_token(kWriterToken).has_value());

  const Authenticator authenticator(three_roles());
  EXPECT_EQ(authenticator.authenticate(std::string("Bearer ") + kWriterToken)->user, "walt");
  EXPECT_FALSE(authenticator.authenticate(kWriterToken).has_value());
  EXPECT_FALSE(authenticator.authenticate(std::string("Bearer  ") + kWriterToken).has_value());
  EXPECT_FALSE(authenticator.authenticate("Bearer unknown-token-0123456789").has_value());
}

TEST(Authenticator, ReplaceSwapsTheWholeTableUnderConcurrentLookups) {
  const std::string token = std::string("Bearer ") + kReaderToken;
  const TokenTable as_reader = *TokenTable::parse(std::string(kReaderToken) + " rita reader\n", "a");
  const TokenTable as_admin = *TokenTable::parse(std::string(kReaderToken) + " rita admin\n" + kWriterToken +
                                                     " walt writer\n",
                                                 "b");
  Authenticator authenticator(as_reader);
  std::atomic<bool> stop = false;
  std::atomic<int> lookups = 0, failed = 0;
  std::vector<std::thread> readers;
  for (int i = 0; i < 2; ++i) {
    readers.emplace_back([&] {
      while (!stop) {
        const auto identity = authenticator.authenticate(token);  // in both tables: never missing
        if (!identity || identity->user != "rita") ++failed;
        ++lookups;
      }
    });
  }
  for (int i = 0; i < 500; ++i) authenticator.replace(i % 2 == 0 ? as_admin : as_reader);
  while (lookups < 1000) std::this_thread::yield();
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(authenticator.size(), 1u);
  EXPECT_EQ(authenticator.authenticate(token)->role, Role::kReader);
  EXPECT_FALSE(authenticator.authenticate(std::string("Bearer ") + kWriterToken).has_value());
}

// The API's own service descriptors: every method of every service.
std::vector<std::string> api_methods() {
  const google::protobuf::FileDescriptor* file = agnapprox::v1::CreateRunRequest::descriptor()->file();
  std::vector<std::string> methods;
  for (int s = 0; s < file->service_count(); ++s) {
    const google::protobuf::ServiceDescriptor* service = file->service(s);
    for (int m = 0; m < service->method_count(); ++m) {
      methods.push_back("/" + service->full_name() + "/" + service->method(m)->name());
    }
  }
  return methods;
}

TEST(MethodRoles, EveryApiMethodHasTheRoleItsNameCallsFor) {
  const std::vector<std::string> methods = api_methods();
  ASSERT_EQ(methods.size(), 20u + 8u + 2u + 4u);  // Tracking, Matching, Training, Multipliers
  const std::set<std::string> admin = {"/agnapprox.v1.Tracking/DeleteExperiment",
                                       "/agnapprox.v1.Tracking/RestoreExperiment",
                                       "/agnapprox.v1.Multipliers/ImportLibrary"};
  for (const std::string& method : methods) {
    const std::string name = method.substr(method.rfind('/') + 1);
    bool read = name == "Reselect";  // answers a selection, stores nothing
    for (const char* prefix : {"Get", "List", "Search", "Query", "Watch", "Download"}) {
      read = read || name.rfind(prefix, 0) == 0;
    }
    const Role expected = admin.contains(method) ? Role::kAdmin : read ? Role::kReader : Role::kWriter;
    const std::optional<Role> role = required_role(method);
    ASSERT_TRUE(role.has_value()) << method << " has no role";
    EXPECT_EQ(*role, expected) << method;
    EXPECT_FALSE(is_public_method(method)) << method;
  }
  EXPECT_EQ(required_role("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"), Role::kReader);
  EXPECT_TRUE(is_public_method("/grpc.health.v1.Health/Check"));
  EXPECT_TRUE(is_public_method("/grpc.health.v1.Health/Watch"));
  EXPECT_FALSE(required_role("/agnapprox.v1.Tracking/Unknown").has_value());
  EXPECT_FALSE(required_role("").has_value());
}

TEST(CheckCall, UnauthenticatedThenPermissionDenied) {
  const Authenticator authenticator(three_roles());
  const std::string write = "/agnapprox.v1.Tracking/CreateRun";
  const std::string reader = std::string("Bearer ") + kReaderToken;
  EXPECT_EQ(check_call(authenticator, write, "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(check_call(authenticator, write, "Bearer wrong-token-0123456789").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  const grpc::Status denied = check_call(authenticator, write, reader);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(denied.error_message(), "user 'rita' has the reader role; " + write + " needs writer");
  EXPECT_TRUE(check_call(authenticator, "/agnapprox.v1.Tracking/GetRun", reader).ok());
  EXPECT_TRUE(check_call(authenticator, write, std::string("Bearer ") + kWriterToken).ok());
  EXPECT_EQ(check_call(authenticator, "/agnapprox.v1.Tracking/Unknown", std::string("Bearer ") + kAdminToken)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(check_call(authenticator, "/agnapprox.v1.Tracking/Unknown", "").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(check_call(authenticator, "/grpc.health.v1.Health/Check", "").ok());
  for (const std::string& value : {std::string(""), std::string("Bearer wrong-token-0123456789"), reader}) {
    const grpc::Status status = check_call(authenticator, write, value);
    EXPECT_EQ(status.error_message().find("token-0123456789"), std::string::npos) << status.error_message();
    EXPECT_EQ(status.error_message().find(kReaderToken), std::string::npos) << status.error_message();
  }
}

TEST(LoopbackAddress, OnlyLoopbackHosts) {
  for (const char* address : {"127.0.0.1:50051", "127.1.2.3:0", "localhost:8080", "[::1]:50051"}) {
    EXPECT_TRUE(is_loopback_address(address)) << address;
  }
  for (const char* address : {"0.0.0.0:50051", "[::]:50051", "10.0.0.1:50051", "128.0.0.1:1", "example.com:80",
                              "127.0.0.1", ":50051", "localhost.example.com:1", "[::2]:1", "127.0.0.256:1"}) {
    EXPECT_FALSE(is_loopback_address(address)) << address;
  }
}

}  // namespace
}  // namespace agnx::server
