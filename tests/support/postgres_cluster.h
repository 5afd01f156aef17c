// PostgresCluster: a private, throwaway PostgreSQL cluster for tests. It is
// initdb'd (--no-sync, trust authentication, C locale) into a temporary
// directory, listens only on a Unix socket in that directory, runs with
// fsync off (or, for benchmarks, start({.durable = true}): PostgreSQL's own
// durable defaults, fsync, synchronous_commit and full_page_writes on) and
// is stopped (immediate) and removed on destruction, or when
// the test process dies without it (a reaper process started with the
// cluster waits for the end of a pipe the test process holds). As root,
// initdb and pg_ctl run as the `postgres` system user (runuser), which owns
// the directory.
//
// One cluster serves a whole test binary (shared(), ~1-2 s to start); each
// test takes a database of its own (create_database), so tests stay
// independent. The binaries are $AGNX_POSTGRES_BIN, else
// /usr/lib/postgresql/15/bin (Debian's postgresql-15). Where they are
// missing, AGNX_SKIP_WITHOUT_POSTGRES skips a test with a message, and fails
// it under CI=true (like AGNX_SKIP_WITHOUT_SHARED).
//
// Every role is trusted (connects without a password) except
// kPasswordRole, a superuser that must give kPassword (scram-sha-256, its
// own line first in pg_hba.conf): wrong or missing credentials are refused
// as a production server would refuse them.
//
// A cluster of one's own may be stopped and started again on the same
// socket and data (stop(), start_again()): a database server going away
// and coming back under its clients.
//
// Thread safety: shared() and create_database() may be called from any
// thread; stop() and start_again() from one thread at a time.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <filesystem>
#include <string>

#include "core/status.h"
#include "tests/support/shared_data.h"

namespace agnx::testing {

struct PostgresClusterOptions {
  // false (tests): fsync, synchronous_commit and full_page_writes off, fast
  // and not crash-safe. true (benchmarks): all three on, as a production
  // server runs; a commit waits for its WAL to reach the disk.
  bool durable = false;
};

class PostgresCluster {
 public:
  // The binary's one cluster (not durable), started on first use and stopped
  // at exit. A failure to start is returned to every caller, with the
  // server's log.
  static Result<PostgresCluster*> shared();
  // A cluster of the caller's own, stopped and removed when it is destroyed.
  static Result<std::unique_ptr<PostgresCluster>> start(const PostgresClusterOptions& options);
  // Where initdb, pg_ctl and postgres are looked for.
  static std::filesystem::path bin_dir();
  // Empty when the binaries (and, as root, the postgres user) are there;
  // else what is missing and which package provides it.
  static std::string missing();

  ~PostgresCluster();
  PostgresCluster(const PostgresCluster&) = delete;
  PostgresCluster& operator=(const PostgresCluster&) = delete;

  // The role that must give a password, and its password.
  static constexpr const char* kPasswordRole = "agnx_password";
  static constexpr const char* kPassword = "agnx-right-password";

  // A new empty database t_N; returns its name.
  Result<std::string> create_database();
  // A libpq key=value conninfo of `database`.
  std::string conninfo(const std::string& database) const;
  // A store URI of `database` (store/open_store.h) with `data_dir`.
  std::string store_uri(const std::string& database, const std::filesystem::path& data_dir) const;
  // The same as kPasswordRole with `password` (URI-safe: not escaped).
  std::string password_store_uri(const std::string& database, const std::filesystem::path& data_dir,
                                 const std::string& password) const;
  // How stop() ends the server: kFast rolls back the open transactions,
  // closes the sessions (57P01 to each client) and shuts down cleanly;
  // kImmediate kills it like a crash, and start_again() replays the WAL.
  // Only a durable cluster keeps every commit through kImmediate (else a
  // commit may be acknowledged before its WAL left PostgreSQL's memory).
  enum class StopMode { kFast, kImmediate };
  // Stops the server (pg_ctl stop -m fast or immediate, waiting until it is
  // down): its socket goes away, its data stays.
  Status stop(StopMode mode);
  // Starts the stopped server again on the same socket and data; returns
  // once it accepts connections.
  Status start_again();
  // Seconds initdb and the start took.
  double start_seconds() const { return start_seconds_; }
  // The settings it was started with beyond initdb's defaults, as
  // "fsync=off synchronous_commit=off full_page_writes=off".
  std::string settings() const;

 private:
  PostgresCluster(std::filesystem::path dir, PostgresClusterOptions options)
      : dir_(std::move(dir)), options_(options) {}
  Status start_reaper();
  Status run_initdb();
  Status start_server();
  Status create_password_role();

  std::filesystem::path dir_;  // the data directory (data/), logs and the socket
  PostgresClusterOptions options_;
  int reaper_pipe_ = -1;       // its end closes when this process ends: the reaper stops the cluster
  pid_t reaper_ = -1;
  double start_seconds_ = 0.0;
  std::atomic<int> databases_{0};
};

}  // namespace agnx::testing

#define AGNX_MISSING_POSTGRES_PREFIX "PostgreSQL test cluster unavailable: "

// Fails the test under CI=true and skips it otherwise when the PostgreSQL
// binaries are missing. Use in a test body or SetUp().
#define AGNX_SKIP_WITHOUT_POSTGRES()                                                                   \
  do {                                                                                                 \
    const std::string agnx_pg_missing = ::agnx::testing::PostgresCluster::missing();                  \
    if (!agnx_pg_missing.empty()) {                                                                    \
      if (::agnx::testing::shared_data_required()) {                                                   \
        GTEST_FAIL() << AGNX_MISSING_POSTGRES_PREFIX << agnx_pg_missing << " (CI=true)";               \
      }                                                                                                \
      GTEST_SKIP() << AGNX_MISSING_POSTGRES_PREFIX << agnx_pg_missing;                                 \
    }                                                                                                  \
  } while (false)
