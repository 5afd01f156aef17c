// The multiplier libraries a server offers: the built-in library, libraries
// loaded from LUT directories at start-up, and libraries imported through
// the API (kept in the tracking store, so they survive restarts, and are
// offered by every replica of the store: one imported through another
// replica is loaded from the store when first asked for or listed).
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

  // Errors: no library of that name here or in the store (kNotFound, naming
  // it), the store's.
  Result<std::shared_ptr<const MultiplierLibrary>> find(const std::string& name) const;

  // Every library, by name (the store's included; one the store cannot give
  // is left out).
  std::vector<std::shared_ptr<const MultiplierLibrary>> list() const;

 private:
  Status offer(std::shared_ptr<const MultiplierLibrary> library) const;
  // Library `name` from the store, offered from now on.
  Result<std::shared_ptr<const MultiplierLibrary>> load(const std::string& name) const;

  store::TrackingStore& store_;
  mutable std::mutex mutex_;
  // Libraries are immutable once offered, so what the store gave is cached.
  mutable std::map<std::string, std::shared_ptr<const MultiplierLibrary>> libraries_;
};

}  // namespace agnx::server
