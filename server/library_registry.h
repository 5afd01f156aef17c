// The multiplier libraries a server offers: the built-in library, libraries
// loaded from LUT directories at start-up, and libraries imported through
// the API (kept in the tracking store, so they survive restarts).
//
// Thread safety: safe for concurrent use.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/library.h"
#include "core/status.h"
#include "store/tracking_store.h"

namespace agnx::server {

class LibraryRegistry {
 public:
  // Offers the built-in library.
  explicit LibraryRegistry(store::TrackingStore& store);

  // Offers `library` for this process only (start-up directories).
  // Errors: the name is taken (kAlreadyExists).
  Status add(MultiplierLibrary library);

  // Offers every library imported earlier.
  Status load_stored();

  // Stores `library` and offers it. Errors: the name is taken.
  Status import(MultiplierLibrary library);

  // Errors: no library of that name (kNotFound, naming it).
  Result<std::shared_ptr<const MultiplierLibrary>> find(const std::string& name) const;

  // Every library, by name.
  std::vector<std::shared_ptr<const MultiplierLibrary>> list() const;

 private:
  Status offer(std::shared_ptr<const MultiplierLibrary> library);

  store::TrackingStore& store_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const MultiplierLibrary>> libraries_;
};

}  // namespace agnx::server
