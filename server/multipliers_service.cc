#include "server/multipliers_service.h"

#include <map>

#include "core/builtin_library.h"
#include "core/characterization.h"
#include "core/lut_directory.h"
#include "server/grpc_status.h"
#include "server/model_worker.h"
#include "server/upload_stream.h"

namespace agnx::server {
namespace {

void describe(const MultiplierLibrary& library, pb::Library* out) {
  out->set_name(library.name());
  out->set_metric(library.metric());
  out->set_size(static_cast<uint32_t>(library.size()));
  out->set_metric_max(library.empty() ? 0.0 : library.max_metric());
  out->set_builtin(&library == &builtin_library());
}

void summarize(const MultiplierLibrary& library, const Multiplier& m, pb::MultiplierSummary* out) {
  out->set_name(m.name());
  out->set_signed_(m.is_signed());
  out->set_metric(library.metric_of(m));
}

// A plain file name: no directories, no hidden files.
bool is_plain_file_name(const std::string& name) {
  return !name.empty() && name[0] != '.' && name.find_first_of("/\\") == std::string::npos && name.size() <= 255;
}

// The library in the uploaded `files` (tables and metrics.csv), unpacked in
// a scratch directory under `scratch_dir`. Errors name files as the client
// sent them, not by their scratch location.
Result<MultiplierLibrary> load_uploaded_library(const pb::ImportHeader& header,
                                                const std::map<std::string, std::string>& files,
                                                const std::filesystem::path& scratch_dir) {
  AGNX_ASSIGN_OR_RETURN(const JobDirectory scratch, JobDirectory::create(scratch_dir));
  std::vector<std::filesystem::path> tables;
  for (const auto& [name, content] : files) {
    AGNX_RETURN_IF_ERROR(scratch.write(name, content));
    if (name != "metrics.csv") tables.push_back(scratch.path() / name);
  }
  auto library = load_lut_files(header.name(), tables, scratch.path() / "metrics.csv",
                                header.metric().empty() ? kDefaultLutMetric : header.metric());
  if (library.ok()) return library;
  std::string message = library.status().message();
  for (std::size_t at; (at = message.find(scratch.path().string() + "/")) != std::string::npos;) {
    message.erase(at, scratch.path().string().size() + 1);
  }
  return Status::invalid_argument(message);
}

}  // namespace

grpc::Status MultipliersService::ListLibraries(grpc::ServerContext*, const pb::ListLibrariesRequest*,
                                               pb::ListLibrariesResponse* reply) {
  for (const auto& library : libraries_.list()) describe(*library, reply->add_libraries());
  return grpc::Status::OK;
}

grpc::Status MultipliersService::ListMultipliers(grpc::ServerContext*, const pb::ListMultipliersRequest* request,
                                                 pb::ListMultipliersResponse* reply) {
  const auto library = libraries_.find(request->library().empty() ? kBuiltinLibraryName : request->library());
  if (!library.ok()) return {grpc::StatusCode::NOT_FOUND, "library: " + library.status().message()};
  for (const auto& m : (*library)->multipliers()) summarize(**library, *m, reply->add_multipliers());
  return grpc::Status::OK;
}

grpc::Status MultipliersService::GetMultiplier(grpc::ServerContext*, const pb::GetMultiplierRequest* request,
                                               pb::MultiplierDetail* reply) {
  const auto library = libraries_.find(request->library().empty() ? kBuiltinLibraryName : request->library());
  if (!library.ok()) return {grpc::StatusCode::NOT_FOUND, "library: " + library.status().message()};
  const Multiplier* m = (*library)->find(request->name());
  if (!m) return {grpc::StatusCode::NOT_FOUND, "name: library " + (*library)->name() + " has no " + request->name()};
  summarize(**library, *m, reply->mutable_summary());
  reply->mutable_metrics()->insert(m->metrics().begin(), m->metrics().end());
  const ErrorCharacterization c = characterize(*m);
  pb::Characterization* out = reply->mutable_characterization();
  out->set_mae(c.mae);
  out->set_mae_pct(c.mae_pct);
  out->set_wce(c.wce);
  out->set_wce_pct(c.wce_pct);
  out->set_mre_pct(c.mre_pct);
  out->set_ep_pct(c.ep_pct);
  out->set_mse(c.mse);
  out->set_error_mean(c.error_mean);
  out->set_error_std(c.error_std);
  return grpc::Status::OK;
}

grpc::Status MultipliersService::ImportLibrary(grpc::ServerContext*, grpc::ServerReader<pb::ImportLibraryRequest>* reader,
                                               pb::Library* reply) {
  pb::ImportHeader header;
  std::map<std::string, std::string> files;
  const auto file_chunk = [&](const pb::ImportLibraryRequest& message, UploadChunk& chunk) -> grpc::Status {
    if (!message.has_file()) return grpc::Status::OK;
    if (!is_plain_file_name(message.file().file_name())) {
      return invalid_field("file.file_name", "'" + message.file().file_name() + "' is not a plain file name");
    }
    chunk = {&files[message.file().file_name()], &message.file().data()};
    return grpc::Status::OK;
  };
  const grpc::Status read = read_upload_stream<pb::ImportLibraryRequest>(
      [reader](pb::ImportLibraryRequest& message) { return reader->Read(&message); }, max_upload_bytes_,
      {"the import header", "file", "import"}, header, file_chunk);
  if (!read.ok()) return read;
  if (header.name().empty()) return invalid_field("header.name", "must not be empty");
  if (!files.contains("metrics.csv")) return invalid_field("file", "an import needs metrics.csv");
  auto library = load_uploaded_library(header, files, scratch_dir_);
  if (!library.ok()) {
    if (library.status().code() != StatusCode::kInvalidArgument) return to_grpc(library.status());
    return invalid_field("file", library.status().message());
  }
  if (const Status s = libraries_.import(std::move(*library)); !s.ok()) return to_grpc(s);
  describe(**libraries_.find(header.name()), reply);
  return grpc::Status::OK;
}

}  // namespace agnx::server
