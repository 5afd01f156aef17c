// The experiment a submission names, for the services that submit jobs.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "store/tracking_store.h"

namespace agnx::server {

// The id of experiment `name`, created if it does not exist (a concurrent
// creation of the same name is found, not an error). Errors: the store's.
Result<int64_t> experiment_named(store::TrackingStore& store, const std::string& name);

}  // namespace agnx::server
