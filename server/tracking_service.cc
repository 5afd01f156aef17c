#include "server/tracking_service.h"

#include "core/clock.h"
#include "server/auth/grpc_auth.h"
#include "server/grpc_status.h"
#include "server/upload_stream.h"
#include "server/proto_convert.h"

namespace agnx::server {
namespace {

store::ViewType view_of(pb::ViewType view) {
  switch (view) {
    case pb::DELETED_ONLY: return store::ViewType::kDeletedOnly;
    case pb::ALL: return store::ViewType::kAll;
    default: return store::ViewType::kActiveOnly;
  }
}

grpc::Status require(bool condition, const std::string& field, const std::string& what) {
  return condition ? grpc::Status::OK : invalid_field(field, what);
}

constexpr std::size_t kChunkBytes = 1 << 20;

}  // namespace

grpc::Status TrackingService::reply_experiment(int64_t experiment_id, pb::Experiment* reply) {
  const auto experiment = store_.get_experiment(experiment_id);
  if (!experiment.ok()) return to_grpc(experiment.status());
  to_proto(*experiment, reply);
  return grpc::Status::OK;
}

grpc::Status TrackingService::reply_run(const std::string& run_id, pb::Run* reply) {
  const auto run = store_.get_run(run_id);
  if (!run.ok()) return to_grpc(run.status());
  to_proto(*run, reply);
  return grpc::Status::OK;
}

grpc::Status TrackingService::CreateExperiment(grpc::ServerContext*, const pb::CreateExperimentRequest* request,
                                               pb::Experiment* reply) {
  if (auto s = require(!request->name().empty(), "name", "must not be empty"); !s.ok()) return s;
  const auto id = store_.create_experiment(request->name(), {request->idempotency_key()});
  if (!id.ok()) return to_grpc(id.status());
  return reply_experiment(*id, reply);
}

grpc::Status TrackingService::GetExperiment(grpc::ServerContext*, const pb::GetExperimentRequest* request,
                                            pb::Experiment* reply) {
  return reply_experiment(request->experiment_id(), reply);
}

grpc::Status TrackingService::GetExperimentByName(grpc::ServerContext*, const pb::GetExperimentByNameRequest* request,
                                                  pb::Experiment* reply) {
  const auto experiment = store_.get_experiment_by_name(request->name());
  if (!experiment.ok()) return to_grpc(experiment.status());
  to_proto(*experiment, reply);
  return grpc::Status::OK;
}

grpc::Status TrackingService::ListExperiments(grpc::ServerContext*, const pb::ListExperimentsRequest* request,
                                              pb::ListExperimentsResponse* reply) {
  const auto experiments = store_.list_experiments(view_of(request->view()));
  if (!experiments.ok()) return to_grpc(experiments.status());
  for (const auto& e : *experiments) to_proto(e, reply->add_experiments());
  return grpc::Status::OK;
}

grpc::Status TrackingService::DeleteExperiment(grpc::ServerContext*, const pb::GetExperimentRequest* request,
                                               pb::Experiment* reply) {
  if (const Status s = store_.delete_experiment(request->experiment_id()); !s.ok()) return to_grpc(s);
  return reply_experiment(request->experiment_id(), reply);
}

grpc::Status TrackingService::RestoreExperiment(grpc::ServerContext*, const pb::GetExperimentRequest* request,
                                                pb::Experiment* reply) {
  if (const Status s = store_.restore_experiment(request->experiment_id()); !s.ok()) return to_grpc(s);
  return reply_experiment(request->experiment_id(), reply);
}

grpc::Status TrackingService::CreateRun(grpc::ServerContext* context, const pb::CreateRunRequest* request,
                                        pb::Run* reply) {
  std::string user;
  if (auto status = caller_user(*context, authenticator_, &user); !status.ok()) return status;
  const int64_t start = request->start_time() ? request->start_time() : now_ms();
  const auto run = store_.create_run(request->experiment_id(), request->run_name(), user, start,
                                     {request->idempotency_key()});
  if (!run.ok()) return to_grpc(run.status());
  return reply_run(run->run_id, reply);
}

grpc::Status TrackingService::GetRun(grpc::ServerContext*, const pb::GetRunRequest* request, pb::Run* reply) {
  return reply_run(request->run_id(), reply);
}

grpc::Status TrackingService::UpdateRun(grpc::ServerContext*, const pb::UpdateRunRequest* request, pb::Run* reply) {
  const auto status = store::parse_run_status(request->status());
  if (!status.ok()) return invalid_field("status", status.status().message());
  std::optional<int64_t> end;
  if (request->has_end_time()) end = request->end_time();
  if (!end && *status != store::RunStatus::kRunning) end = now_ms();
  if (const Status s = store_.update_run(request->run_id(), *status, end); !s.ok()) return to_grpc(s);
  return reply_run(request->run_id(), reply);
}

grpc::Status TrackingService::DeleteRun(grpc::ServerContext*, const pb::GetRunRequest* request, pb::Run* reply) {
  if (const Status s = store_.delete_run(request->run_id()); !s.ok()) return to_grpc(s);
  return reply_run(request->run_id(), reply);
}

grpc::Status TrackingService::RestoreRun(grpc::ServerContext*, const pb::GetRunRequest* request, pb::Run* reply) {
  if (const Status s = store_.restore_run(request->run_id()); !s.ok()) return to_grpc(s);
  return reply_run(request->run_id(), reply);
}

grpc::Status TrackingService::SearchRuns(grpc::ServerContext*, const pb::SearchRunsRequest* request,
                                         pb::SearchRunsResponse* reply) {
  store::SearchRunsRequest search;
  search.experiment_ids.assign(request->experiment_ids().begin(), request->experiment_ids().end());
  search.filter = request->filter();
  search.view = view_of(request->view());
  search.order_by.assign(request->order_by().begin(), request->order_by().end());
  if (request->max_results() != 0) search.max_results = request->max_results();
  search.page_token = request->page_token();
  const auto page = store_.search_runs(search);
  if (!page.ok()) return to_grpc(page.status());
  for (const auto& run : page->runs) to_proto(run, reply->add_runs());
  reply->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status TrackingService::LogParam(grpc::ServerContext*, const pb::LogParamRequest* request, pb::LogResponse*) {
  return to_grpc(store_.log_param(request->run_id(), request->key(), request->value()));
}

grpc::Status TrackingService::LogMetric(grpc::ServerContext*, const pb::LogMetricRequest* request, pb::LogResponse*) {
  store::RunBatch batch;
  batch.metrics.push_back(from_proto(request->metric(), now_ms()));
  return to_grpc(store_.log_batch(request->run_id(), batch, {request->idempotency_key()}));
}

grpc::Status TrackingService::SetTag(grpc::ServerContext*, const pb::SetTagRequest* request, pb::LogResponse*) {
  return to_grpc(store_.set_tag(request->run_id(), request->key(), request->value()));
}

grpc::Status TrackingService::LogBatch(grpc::ServerContext*, const pb::LogBatchRequest* request, pb::LogResponse*) {
  store::RunBatch batch;
  const int64_t now = now_ms();
  for (const auto& m : request->metrics()) batch.metrics.push_back(from_proto(m, now));
  batch.params.insert(request->params().begin(), request->params().end());
  batch.tags.insert(request->tags().begin(), request->tags().end());
  return to_grpc(store_.log_batch(request->run_id(), batch, {request->idempotency_key()}));
}

grpc::Status TrackingService::GetMetricHistory(grpc::ServerContext*, const pb::GetMetricHistoryRequest* request,
                                               pb::GetMetricHistoryResponse* reply) {
  const auto history = store_.get_metric_history(request->run_id(), request->key());
  if (!history.ok()) return to_grpc(history.status());
  for (const auto& m : *history) to_proto(m, reply->add_metrics());
  return grpc::Status::OK;
}

grpc::Status TrackingService::ListArtifacts(grpc::ServerContext*, const pb::GetRunRequest* request,
                                            pb::ListArtifactsResponse* reply) {
  const auto artifacts = store_.list_artifacts(request->run_id());
  if (!artifacts.ok()) return to_grpc(artifacts.status());
  for (const auto& a : *artifacts) to_proto(a, reply->add_artifacts());
  return grpc::Status::OK;
}

grpc::Status TrackingService::UploadArtifact(grpc::ServerContext*, grpc::ServerReader<pb::UploadArtifactRequest>* reader,
                                             pb::ArtifactInfo* reply) {
  pb::ArtifactHeader header;
  std::string content;
  const grpc::Status read = read_upload_stream<pb::UploadArtifactRequest>(
      [reader](pb::UploadArtifactRequest& message) { return reader->Read(&message); }, max_upload_bytes_,
      {"the header (run_id, path)", "data", "upload"}, header,
      [&](const pb::UploadArtifactRequest& message, UploadChunk& chunk) {
        if (!message.has_header()) chunk = {&content, &message.data()};
        return grpc::Status::OK;
      });
  if (!read.ok()) return read;
  const auto info = store_.log_artifact(header.run_id(), header.path(), content);
  if (!info.ok()) return to_grpc(info.status());
  to_proto(*info, reply);
  return grpc::Status::OK;
}

grpc::Status TrackingService::DownloadArtifact(grpc::ServerContext*, const pb::DownloadArtifactRequest* request,
                                               grpc::ServerWriter<pb::Chunk>* writer) {
  const auto content = store_.read_artifact(request->run_id(), request->path());
  if (!content.ok()) return to_grpc(content.status());
  pb::Chunk chunk;
  for (std::size_t offset = 0; offset < content->size() || offset == 0; offset += kChunkBytes) {
    chunk.set_data(content->substr(offset, kChunkBytes));
    if (!writer->Write(chunk)) break;
    if (content->empty()) break;
  }
  return grpc::Status::OK;
}

}  // namespace agnx::server
