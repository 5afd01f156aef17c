// The Matching service's DownloadRunExport: a run's hardware handoff
// (server/run_export.h), streamed file by file.
#include "server/grpc_status.h"
#include "server/matching_service.h"
#include "server/run_export.h"

namespace agnx::server {
namespace {

constexpr std::size_t kExportChunkBytes = std::size_t{1} << 20;

}  // namespace

grpc::Status MatchingService::DownloadRunExport(grpc::ServerContext*, const pb::GetRunRequest* request,
                                                grpc::ServerWriter<pb::ExportChunk>* writer) {
  const auto files = export_run(store_, libraries_, request->run_id());
  if (!files.ok()) return to_grpc(files.status());
  for (const ExportedFile& file : *files) {
    // Every file sends at least its first chunk, which names it (an empty file too).
    for (std::size_t at = 0; at == 0 || at < file.content.size(); at += kExportChunkBytes) {
      pb::ExportChunk chunk;
      if (at == 0) {
        chunk.set_path(file.name);
        chunk.set_executable(file.executable);
      }
      chunk.set_data(file.content.substr(at, kExportChunkBytes));
      if (!writer->Write(chunk)) return {grpc::StatusCode::CANCELLED, "the client stopped reading the export"};
    }
  }
  return grpc::Status::OK;
}

}  // namespace agnx::server
