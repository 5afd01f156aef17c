#include "client/cli/commands.h"

#include "client/cli/format.h"

namespace agnx::cli {

client::Result<client::Client> connect(const Globals& globals) {
  client::ClientOptions options;
  options.address = globals.server;
  options.token = globals.token;
  options.tls = globals.tls;
  options.ca_file = globals.tls_ca;
  options.deadline = std::chrono::milliseconds(static_cast<int64_t>(globals.timeout_seconds * 1000.0));
  return client::Client::connect(options);
}

void print_json(const Io& io, const nlohmann::json& value) { io.out << value.dump(2) << '\n'; }

client::Status follow_job(const client::Client& client, int64_t job_id, const Io& io) {
  ProgressPrinter progress(io.err, io.err_is_tty);
  auto final = client.watch_job(job_id, [&](const pb::JobProgress& p) { progress.update(p); });
  progress.finish();
  if (!final.ok()) return final.status();
  if (final->state() == "SUCCEEDED") return {};
  std::string why = final->message();
  if (auto job = client.get_job(job_id); job.ok() && !job->error().empty()) why = job->error();
  return client::Status(grpc::StatusCode::ABORTED, "job " + std::to_string(job_id) + " ended " + final->state() +
                                                       (why.empty() ? "" : ": " + why));
}

}  // namespace agnx::cli
