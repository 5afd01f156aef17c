#include "server/experiments.h"

namespace agnx::server {

Result<int64_t> experiment_named(store::TrackingStore& store, const std::string& name) {
  if (const auto found = store.get_experiment_by_name(name); found.ok()) return found->experiment_id;
  const auto created = store.create_experiment(name);
  if (created.ok() || created.status().code() != StatusCode::kAlreadyExists) return created;
  AGNX_ASSIGN_OR_RETURN(const store::Experiment again, store.get_experiment_by_name(name));  // lost a race
  return again.experiment_id;
}

std::vector<store::ArtifactContent> present_uploads(std::initializer_list<store::ArtifactContent> uploads) {
  std::vector<store::ArtifactContent> present;
  for (const store::ArtifactContent& upload : uploads) {
    if (!upload.content.empty()) present.push_back(upload);
  }
  return present;
}

}  // namespace agnx::server
