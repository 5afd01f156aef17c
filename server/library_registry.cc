#include "server/library_registry.h"

#include "core/builtin_library.h"

namespace agnx::server {
namespace {

store::StoredLibrary to_stored(const MultiplierLibrary& library) {
  store::StoredLibrary stored{library.name(), library.metric(), library.max_metric(), {}};
  for (const auto& m : library.multipliers()) {
    stored.multipliers.push_back(
        {m->name(), m->is_signed(), library.metric_of(*m), std::vector<int32_t>(m->table().begin(), m->table().end())});
  }
  return stored;
}

Result<MultiplierLibrary> from_stored(const store::StoredLibrary& stored) {
  std::vector<std::shared_ptr<const Multiplier>> multipliers;
  for (const auto& m : stored.multipliers) {
    AGNX_ASSIGN_OR_RETURN(Multiplier multiplier,
                          Multiplier::create(m.name, m.is_signed ? Signedness::kSigned : Signedness::kUnsigned,
                                             m.products, {{stored.metric, m.metric}}));
    multipliers.push_back(std::make_shared<const Multiplier>(std::move(multiplier)));
  }
  return MultiplierLibrary::create(stored.name, stored.metric, std::move(multipliers));
}

}  // namespace

LibraryRegistry::LibraryRegistry(store::TrackingStore& store) : store_(store) {
  libraries_[builtin_library().name()] = std::shared_ptr<const MultiplierLibrary>(&builtin_library(), [](auto*) {});
}

Status LibraryRegistry::offer(std::shared_ptr<const MultiplierLibrary> library) const {
  std::lock_guard lock(mutex_);
  if (libraries_.contains(library->name())) {
    return Status::already_exists("a library named " + library->name() + " already exists");
  }
  libraries_[library->name()] = std::move(library);
  return {};
}

Status LibraryRegistry::add(MultiplierLibrary library) {
  return offer(std::make_shared<const MultiplierLibrary>(std::move(library)));
}

Status LibraryRegistry::load_stored() {
  AGNX_ASSIGN_OR_RETURN(const std::vector<std::string> names, store_.list_libraries());
  for (const auto& name : names) {
    AGNX_ASSIGN_OR_RETURN(const store::StoredLibrary stored, store_.get_library(name));
    AGNX_ASSIGN_OR_RETURN(MultiplierLibrary library, from_stored(stored));
    AGNX_RETURN_IF_ERROR(add(std::move(library)));
  }
  return {};
}

Status LibraryRegistry::import(MultiplierLibrary library) {
  if (library.empty()) return Status::invalid_argument("library " + library.name() + " holds no multiplier");
  {
    std::lock_guard lock(mutex_);
    if (libraries_.contains(library.name())) {
      return Status::already_exists("a library named " + library.name() + " already exists");
    }
  }
  AGNX_RETURN_IF_ERROR(store_.put_library(to_stored(library)));
  return add(std::move(library));
}

Result<std::shared_ptr<const MultiplierLibrary>> LibraryRegistry::load(const std::string& name) const {
  const Result<store::StoredLibrary> stored = store_.get_library(name);
  if (stored.status().code() == StatusCode::kNotFound) return Status::not_found("no multiplier library named " + name);
  if (!stored.ok()) return stored.status();
  AGNX_ASSIGN_OR_RETURN(MultiplierLibrary library, from_stored(*stored));
  const Status offered = offer(std::make_shared<const MultiplierLibrary>(std::move(library)));
  if (!offered.ok() && offered.code() != StatusCode::kAlreadyExists) return offered;
  std::lock_guard lock(mutex_);  // offered now, by this call or a concurrent one
  return libraries_.at(name);
}

Result<std::shared_ptr<const MultiplierLibrary>> LibraryRegistry::find(const std::string& name) const {
  {
    std::lock_guard lock(mutex_);
    if (const auto it = libraries_.find(name); it != libraries_.end()) return it->second;
  }
  return load(name);
}

std::vector<std::shared_ptr<const MultiplierLibrary>> LibraryRegistry::list() const {
  if (const auto stored = store_.list_libraries(); stored.ok()) {
    for (const std::string& name : *stored) (void)find(name);
  }
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<const MultiplierLibrary>> out;
  for (const auto& [name, library] : libraries_) out.push_back(library);
  return out;
}

}  // namespace agnx::server
