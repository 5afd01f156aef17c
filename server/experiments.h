// What the services that submit jobs (Matching, Training) share: the
// experiment a submission names, and its uploads as artifacts.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "core/status.h"
#include "store/tracking_store.h"

namespace agnx::server {

// The id of experiment `name`, created if it does not exist (a concurrent
// creation of the same name is found, not an error). Errors: the store's.
Result<int64_t> experiment_named(store::TrackingStore& store, const std::string& name);

// The `uploads` that are not empty (a file the client did not send), in order.
std::vector<store::ArtifactContent> present_uploads(std::initializer_list<store::ArtifactContent> uploads);

}  // namespace agnx::server
