// The dashboard's request handler, free of any networking: one parsed
// request in, one complete response out. HttpServer (Beast) feeds it.
//
// Read-only JSON API (GET only; every error body is {"error": "..."}):
//   /api/experiments                    ?view=active|deleted|all
//   /api/experiments/{id}
//   /api/experiments/{id}/runs          ?filter= &order_by= (repeatable) &max_results= (1..50000,
//                                        default 100) &page_token= &view=
//   /api/experiments/{id}/energy        every energy point, each flagged "pareto"
//   /api/experiments/{id}/pareto        the Pareto front's points
//   /api/runs/{run_id}                  info, params, latest metrics, tags
//   /api/runs/{run_id}/matching         {"run_id", "lambda", "matching": matching_info_to_json}
//   /api/runs/{run_id}/history          ?key= (repeatable, at least one): {"run_id", "metrics":
//                                        {KEY: [{step, value, timestamp}]}}; 404 for a key the
//                                        run never logged
//   /api/runs/{run_id}/sweep            a sweep run's sweep_summary (server/training_job.h):
//                                        its points before and after retraining and the front;
//                                        400 for a run that is not a sweep
//   /api/runs/{run_id}/export           the run's hardware handoff (server/run_export.h) as
//                                        application/x-tar, "agnx-export-RUN.tar"; 400 for a run
//                                        without a matching result; 404 without HttpOptions::libraries
//   /api/jobs                           ?state=QUEUED|RUNNING|SUCCEEDED|FAILED|CANCELLED
//   /api/jobs/{id}
// 400: a bad parameter (the message names it; filter and order_by errors
// carry the store's message with the position); 404: an unknown id or path;
// 401: a missing or wrong bearer token; 405: a method other than GET.
// Unknown query parameters are errors (400), so typos do not pass silently.
//
// Metrics: "/metrics" is HttpOptions::metrics rendered in the Prometheus text
// format (404 without it), behind the same bearer-token check as /api/.
//
// Static files: "/" is assets_dir/index.html, "/assets/vendor/chart.js" the
// Chart.js file, "/assets/<path>" a file under assets_dir. Paths with "..",
// ".", empty segments, backslashes or NUL, and files resolving (through
// symlinks) outside assets_dir, are 404.
//
// Thread safety: handle() is const and may run on any number of threads.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "server/http/http_server.h"
#include "store/tracking_store.h"

namespace agnx::server {

struct HttpRequest {
  std::string method;         // "GET", ...
  std::string target;         // origin form: "/api/experiments?view=all"
  std::string authorization;  // the Authorization header, empty if absent
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

// A JSON error response: {"error": message}.
HttpResponse json_error(unsigned status, std::string_view message);

// Decodes %XX escapes (and '+' as a space when `plus_is_space`).
// Errors: a truncated or non-hex escape, a decoded NUL.
Result<std::string> percent_decode(std::string_view text, bool plus_is_space);

class DashboardHandler {
 public:
  // `options` paths must be resolved (see default_assets_dir()).
  DashboardHandler(store::TrackingStore& store, HttpOptions options);

  HttpResponse handle(const HttpRequest& request) const;

 private:
  HttpResponse handle_api(std::string_view path, const std::vector<std::pair<std::string, std::string>>& query) const;
  HttpResponse handle_static(std::string_view path) const;

  store::TrackingStore& store_;
  HttpOptions options_;
  std::filesystem::path assets_root_;  // canonical assets_dir
};

}  // namespace agnx::server
