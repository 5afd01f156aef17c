// Helper of store_crash_test: logs to a run in a loop and prints each
// iteration's number to stdout once the store acknowledged it (committed).
//   store_crash_writer DATA_DIR RUN_ID FIRST_ITERATION
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "store/sqlite_store.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s DATA_DIR RUN_ID FIRST_ITERATION\n", argv[0]);
    return 2;
  }
  agnx::store::SqliteStoreOptions options;
  options.data_dir = argv[1];
  auto store = agnx::store::SqliteTrackingStore::open(options);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().to_string().c_str());
    return 1;
  }
  const std::string run_id = argv[2];
  for (int64_t i = std::atoll(argv[3]);; ++i) {
    agnx::store::RunBatch batch;
    for (int64_t k = 0; k < 20; ++k) batch.metrics.push_back({"counter", static_cast<double>(i), k, i});
    batch.params = {{std::string("p").append(std::to_string(i)), std::to_string(i)}};
    batch.tags = {{"last", std::to_string(i)}};
    const agnx::Status status = (*store)->log_batch(run_id, batch);
    if (!status.ok()) {
      std::fprintf(stderr, "%s\n", status.to_string().c_str());
      return 1;
    }
    const std::string line = std::to_string(i) + "\n";
    if (::write(STDOUT_FILENO, line.data(), line.size()) != static_cast<ssize_t>(line.size())) return 1;
  }
}
