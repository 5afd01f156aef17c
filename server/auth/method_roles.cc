#include "server/auth/method_roles.h"

#include <algorithm>
#include <utility>

namespace agnx::server {
namespace {

constexpr Role R = Role::kReader, W = Role::kWriter, A = Role::kAdmin;

constexpr std::pair<std::string_view, Role> kMethodRoles[] = {
    {"/agnapprox.v1.Tracking/CreateExperiment", W},
    {"/agnapprox.v1.Tracking/GetExperiment", R},
    {"/agnapprox.v1.Tracking/GetExperimentByName", R},
    {"/agnapprox.v1.Tracking/ListExperiments", R},
    {"/agnapprox.v1.Tracking/DeleteExperiment", A},
    {"/agnapprox.v1.Tracking/RestoreExperiment", A},
    {"/agnapprox.v1.Tracking/CreateRun", W},
    {"/agnapprox.v1.Tracking/GetRun", R},
    {"/agnapprox.v1.Tracking/UpdateRun", W},
    {"/agnapprox.v1.Tracking/DeleteRun", W},
    {"/agnapprox.v1.Tracking/RestoreRun", W},
    {"/agnapprox.v1.Tracking/SearchRuns", R},
    {"/agnapprox.v1.Tracking/LogParam", W},
    {"/agnapprox.v1.Tracking/LogMetric", W},
    {"/agnapprox.v1.Tracking/SetTag", W},
    {"/agnapprox.v1.Tracking/LogBatch", W},
    {"/agnapprox.v1.Tracking/GetMetricHistory", R},
    {"/agnapprox.v1.Tracking/ListArtifacts", R},
    {"/agnapprox.v1.Tracking/UploadArtifact", W},
    {"/agnapprox.v1.Tracking/DownloadArtifact", R},

    {"/agnapprox.v1.Matching/SubmitMatching", W},
    {"/agnapprox.v1.Matching/WatchJob", R},
    {"/agnapprox.v1.Matching/GetJob", R},
    {"/agnapprox.v1.Matching/CancelJob", W},
    {"/agnapprox.v1.Matching/GetMatchingResult", R},
    {"/agnapprox.v1.Matching/QueryEnergy", R},
    {"/agnapprox.v1.Matching/Reselect", R},  // answers a new selection, stores nothing
    {"/agnapprox.v1.Matching/DownloadRunExport", R},

    {"/agnapprox.v1.Training/SubmitTraining", W},
    {"/agnapprox.v1.Training/GetSweep", R},

    {"/agnapprox.v1.Multipliers/ListLibraries", R},
    {"/agnapprox.v1.Multipliers/ListMultipliers", R},
    {"/agnapprox.v1.Multipliers/GetMultiplier", R},
    {"/agnapprox.v1.Multipliers/ImportLibrary", A},

    {"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", R},
};

constexpr std::string_view kPublicMethods[] = {"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"};

}  // namespace

std::optional<Role> required_role(std::string_view method) {
  for (const auto& [name, role] : kMethodRoles) {
    if (name == method) return role;
  }
  return std::nullopt;
}

bool is_public_method(std::string_view method) {
  return std::find(std::begin(kPublicMethods), std::end(kPublicMethods), method) != std::end(kPublicMethods);
}

}  // namespace agnx::server
