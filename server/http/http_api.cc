#include "server/http/http_api.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "core/matching_json.h"
#include "server/observability/metrics.h"
#include "server/run_export.h"
#include "server/training_job.h"
#include "store/entities.h"

namespace agnx::server {
namespace {

using nlohmann::json;
using Query = std::vector<std::pair<std::string, std::string>>;

// Stored names are not guaranteed to be UTF-8; invalid bytes become U+FFFD
// instead of an exception.
std::string dump(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

HttpResponse json_response(const json& value) {
  HttpResponse response;
  response.body = dump(value);
  return response;
}

unsigned http_status(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kFailedPrecondition:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

HttpResponse status_error(const Status& status, std::string_view context = {}) {
  std::string message = context.empty() ? status.message() : std::string(context) + ": " + status.message();
  return json_error(http_status(status), message);
}

json optional_int(const std::optional<int64_t>& value) { return value ? json(*value) : json(nullptr); }

json experiment_json(const store::Experiment& e) {
  return {{"experiment_id", e.experiment_id},
          {"name", e.name},
          {"lifecycle", store::lifecycle_name(e.lifecycle)},
          {"creation_time", e.creation_time},
          {"last_update_time", e.last_update_time}};
}

json run_json(const store::Run& run) {
  const store::RunInfo& i = run.info;
  json metrics = json::object();
  for (const auto& [key, m] : run.metrics) {
    metrics[key] = {{"value", m.value}, {"timestamp", m.timestamp}, {"step", m.step}};
  }
  return {{"info",
           {{"run_id", i.run_id},
            {"experiment_id", i.experiment_id},
            {"run_name", i.run_name},
            {"user_id", i.user_id},
            {"status", store::run_status_name(i.status)},
            {"start_time", i.start_time},
            {"end_time", optional_int(i.end_time)},
            {"lifecycle", store::lifecycle_name(i.lifecycle)}}},
          {"params", run.params},
          {"metrics", std::move(metrics)},
          {"tags", run.tags}};
}

// Energy points are the one large answer (every run of an experiment), so
// they are written directly rather than through a json tree.
void append_number(std::string& out, double value) {
  if (!std::isfinite(value)) {
    out += "null";  // as nlohmann::json writes it
    return;
  }
  char buffer[32];
  const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);  // shortest round trip
  out.append(buffer, error == std::errc() ? end : buffer);
}

void append_string(std::string& out, const std::string& text) { out += dump(json(text)); }

void append_energy_point(std::string& out, const store::EnergyPoint& p, std::optional<bool> pareto) {
  out += R"({"run_id":)";
  append_string(out, p.run_id);
  out += R"(,"run_name":)";
  append_string(out, p.run_name);
  out += R"(,"lambda":)";
  append_number(out, p.lambda);
  out += R"(,"library":)";
  append_string(out, p.library);
  out += R"(,"metric":)";
  append_string(out, p.metric);
  out += R"(,"relative_energy":)";
  append_number(out, p.relative_energy);
  out += R"(,"accuracies":{)";
  bool first = true;
  for (const auto& [key, value] : p.accuracies) {
    if (!first) out += ',';
    first = false;
    append_string(out, key);
    out += ':';
    append_number(out, value);
  }
  out += '}';
  if (pareto) out += *pareto ? R"(,"pareto":true)" : R"(,"pareto":false)";
  out += '}';
}

json job_json(const store::Job& j) {
  return {{"job_id", j.job_id},
          {"run_id", j.run_id ? json(*j.run_id) : json(nullptr)},
          {"kind", j.kind},
          {"state", store::job_state_name(j.state)},
          {"attempts", j.attempts},
          {"progress", j.progress},
          {"error", j.error},
          {"creation_time", j.creation_time},
          {"update_time", j.update_time},
          {"start_time", optional_int(j.start_time)},
          {"end_time", optional_int(j.end_time)}};
}

// Splits "/a/b/c" into {"a", "b", "c"} (empty segments kept, so "//" is caught).
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (true) {
    const std::size_t slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) return parts;
    path.remove_prefix(slash + 1);
  }
}

Result<int64_t> parse_int(std::string_view text, std::string_view what) {
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    return Status::invalid_argument(std::string(what) + ": '" + std::string(text) + "' is not an integer");
  }
  return value;
}

// Checks that `query` names only `allowed` keys, and each at most once
// unless it is in `repeatable`.
Status check_query(const Query& query, std::initializer_list<std::string_view> allowed,
                   std::initializer_list<std::string_view> repeatable = {}) {
  std::set<std::string_view> seen;
  for (const auto& [key, value] : query) {
    bool known = false;
    for (std::string_view a : allowed) known = known || a == key;
    if (!known) {
      std::string names;
      for (std::string_view a : allowed) names += (names.empty() ? "" : ", ") + std::string(a);
      return Status::invalid_argument("unknown parameter '" + key + "'" +
                                      (names.empty() ? " (this endpoint takes none)" : " (expected: " + names + ")"));
    }
    bool repeats = false;
    for (std::string_view r : repeatable) repeats = repeats || r == key;
    if (!seen.insert(key).second && !repeats) {
      return Status::invalid_argument("parameter '" + key + "' is given more than once");
    }
  }
  return Status();
}

std::optional<std::string> query_value(const Query& query, std::string_view key) {
  for (const auto& [k, v] : query) {
    if (k == key) return v;
  }
  return std::nullopt;
}

Result<store::ViewType> parse_view(const Query& query) {
  const auto view = query_value(query, "view");
  if (!view || *view == "active") return store::ViewType::kActiveOnly;
  if (*view == "deleted") return store::ViewType::kDeletedOnly;
  if (*view == "all") return store::ViewType::kAll;
  return Status::invalid_argument("parameter 'view': '" + *view + "' is not one of active, deleted, all");
}

// GET /api/runs/{run_id}/history?key=K (repeatable, at least one):
// {"run_id", "metrics": {K: [{step, value, timestamp}]}}, each key's values
// as get_metric_history orders them. 404: an unknown run, or a key the run
// has never logged (so a typo does not read as an empty curve).
HttpResponse run_history(store::TrackingStore& store, const std::string& run_id, const Query& query) {
  if (Status s = check_query(query, {"key"}, {"key"}); !s.ok()) return status_error(s);
  if (query.empty()) return json_error(400, "parameter 'key' is required (once per metric)");
  auto run = store.get_run(run_id);
  if (!run.ok()) return status_error(run.status());
  json metrics = json::object();
  for (const auto& [ignored, key] : query) {
    if (!run->metrics.contains(key)) return json_error(404, "run " + run_id + " has no metric '" + key + "'");
    auto history = store.get_metric_history(run_id, key);
    if (!history.ok()) return status_error(history.status());
    json values = json::array();
    for (const store::Metric& m : *history) {
      values.push_back({{"step", m.step}, {"value", m.value}, {"timestamp", m.timestamp}});
    }
    metrics[key] = std::move(values);
  }
  return json_response({{"run_id", run_id}, {"metrics", std::move(metrics)}});
}

const char* content_type_of(const std::filesystem::path& path) {
  static const std::map<std::string, const char*> kTypes = {
      {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},   {".json", "application/json"},
      {".svg", "image/svg+xml"},             {".png", "image/png"},
      {".ico", "image/x-icon"},              {".txt", "text/plain; charset=utf-8"}};
  const auto found = kTypes.find(path.extension().string());
  return found == kTypes.end() ? "application/octet-stream" : found->second;
}

HttpResponse not_found_page(std::string_view path) {
  HttpResponse response;
  response.status = 404;
  response.content_type = "text/plain; charset=utf-8";
  response.body = "not found: " + std::string(path) + "\n";
  return response;
}

std::optional<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return std::move(content).str();
}

// ------------------------------------------------------------ the routes

using Arguments = std::vector<std::string_view>;  // the path segments a route's {} matched

HttpResponse list_experiments(store::TrackingStore& store, const Arguments&, const Query& query) {
  if (Status s = check_query(query, {"view"}); !s.ok()) return status_error(s);
  auto view = parse_view(query);
  if (!view.ok()) return status_error(view.status());
  auto experiments = store.list_experiments(*view);
  if (!experiments.ok()) return status_error(experiments.status());
  json list = json::array();
  for (const auto& e : *experiments) list.push_back(experiment_json(e));
  return json_response({{"experiments", std::move(list)}});
}

HttpResponse get_experiment(store::TrackingStore& store, const Arguments& args, const Query& query) {
  auto id = parse_int(args[0], "experiment id");
  if (!id.ok()) return status_error(id.status());
  if (Status s = check_query(query, {}); !s.ok()) return status_error(s);
  auto experiment = store.get_experiment(*id);
  if (!experiment.ok()) return status_error(experiment.status());
  return json_response(experiment_json(*experiment));
}

// The search request of /api/experiments/{id}/runs from its query.
Result<store::SearchRunsRequest> runs_request(int64_t experiment_id, const Query& query) {
  store::SearchRunsRequest request;
  request.experiment_ids = {experiment_id};
  request.filter = query_value(query, "filter").value_or("");
  request.page_token = query_value(query, "page_token").value_or("");
  for (const auto& [key, value] : query) {
    if (key == "order_by" && !value.empty()) request.order_by.push_back(value);
  }
  request.max_results = 100;
  if (const auto max = query_value(query, "max_results")) {
    AGNX_ASSIGN_OR_RETURN(const int64_t parsed, parse_int(*max, "parameter 'max_results'"));
    if (parsed < 1 || parsed > 50000) {
      return Status::invalid_argument("parameter 'max_results': " + *max + " is outside [1, 50000]");
    }
    request.max_results = static_cast<int>(parsed);
  }
  AGNX_ASSIGN_OR_RETURN(request.view, parse_view(query));
  return request;
}

HttpResponse experiment_runs(store::TrackingStore& store, const Arguments& args, const Query& query) {
  auto id = parse_int(args[0], "experiment id");
  if (!id.ok()) return status_error(id.status());
  if (Status s = check_query(query, {"filter", "order_by", "max_results", "page_token", "view"}, {"order_by"});
      !s.ok()) {
    return status_error(s);
  }
  // search_runs answers an unknown experiment with no runs; the API says 404.
  if (auto experiment = store.get_experiment(*id); !experiment.ok()) return status_error(experiment.status());
  auto request = runs_request(*id, query);
  if (!request.ok()) return status_error(request.status());
  auto page = store.search_runs(*request);
  if (!page.ok()) {
    // The store's message names what failed (filter / order_by / page_token and the position).
    const std::string message = page.status().message();
    std::string_view parameter = "filter";
    if (message.find("order_by") != std::string::npos) parameter = "order_by";
    if (message.find("page_token") != std::string::npos) parameter = "page_token";
    return status_error(page.status(), "parameter '" + std::string(parameter) + "'");
  }
  json runs = json::array();
  for (const auto& run : page->runs) runs.push_back(run_json(run));
  return json_response({{"runs", std::move(runs)}, {"next_page_token", page->next_page_token}});
}

// /energy (every point, with its front mark) or /pareto (the front only).
HttpResponse energy_points(store::TrackingStore& store, const Arguments& args, const Query& query, bool front_only) {
  auto id = parse_int(args[0], "experiment id");
  if (!id.ok()) return status_error(id.status());
  if (Status s = check_query(query, {}); !s.ok()) return status_error(s);
  auto points = store.energy_points(*id);
  if (!points.ok()) return status_error(points.status());
  const std::vector<store::EnergyPoint> front = store::pareto_front(*points);
  HttpResponse response;
  std::string& out = response.body;
  out.reserve(256 * points->size() + 64);
  out += R"({"experiment_id":)" + std::to_string(*id) + R"(,"points":[)";
  if (front_only) {
    for (std::size_t i = 0; i < front.size(); ++i) {
      if (i > 0) out += ',';
      append_energy_point(out, front[i], std::nullopt);
    }
  } else {
    std::unordered_set<std::string> on_front;
    for (const auto& p : front) on_front.insert(p.run_id);
    for (std::size_t i = 0; i < points->size(); ++i) {
      if (i > 0) out += ',';
      append_energy_point(out, (*points)[i], on_front.contains((*points)[i].run_id));
    }
  }
  out += "]}";
  return response;
}

HttpResponse get_run(store::TrackingStore& store, const Arguments& args, const Query& query) {
  if (Status s = check_query(query, {}); !s.ok()) return status_error(s);
  auto run = store.get_run(std::string(args[0]));
  if (!run.ok()) return status_error(run.status());
  return json_response(run_json(*run));
}

HttpResponse run_matching(store::TrackingStore& store, const Arguments& args, const Query& query) {
  if (Status s = check_query(query, {}); !s.ok()) return status_error(s);
  const std::string run_id(args[0]);
  auto record = store.get_matching(run_id);
  if (!record.ok()) return status_error(record.status());
  // The canonical text verbatim, so its doubles read back bit-identical.
  HttpResponse response;
  response.body = R"({"run_id":)" + dump(json(run_id)) + R"(,"lambda":)" + dump(json(record->lambda)) +
                  R"(,"matching":)" + matching_info_to_json(record->info, -1) + "}";
  return response;
}

HttpResponse run_sweep(store::TrackingStore& store, const Arguments& args, const Query& query) {
  if (Status s = check_query(query, {}); !s.ok()) return status_error(s);
  // sweep_summary's JSON verbatim: the one definition of a sweep's points and front.
  auto summary = sweep_summary(store, std::string(args[0]));
  if (!summary.ok()) return status_error(summary.status());
  HttpResponse response;
  response.body = std::move(*summary);
  return response;
}

HttpResponse list_jobs(store::TrackingStore& store, const Arguments&, const Query& query) {
  if (Status s = check_query(query, {"state"}); !s.ok()) return status_error(s);
  std::optional<store::JobState> state;
  if (const auto name = query_value(query, "state")) {
    auto parsed = store::parse_job_state(*name);
    if (!parsed.ok()) return status_error(parsed.status(), "parameter 'state'");
    state = *parsed;
  }
  auto jobs = store.list_jobs(state);
  if (!jobs.ok()) return status_error(jobs.status());
  json list = json::array();
  for (const auto& j : *jobs) list.push_back(job_json(j));
  return json_response({{"jobs", std::move(list)}});
}

HttpResponse get_job(store::TrackingStore& store, const Arguments& args, const Query& query) {
  if (Status s = check_query(query, {}); !s.ok()) return status_error(s);
  auto id = parse_int(args[0], "job id");
  if (!id.ok()) return status_error(id.status());
  auto job = store.get_job(*id);
  if (!job.ok()) return status_error(job.status());
  return json_response(job_json(*job));
}

// GET /api/runs/{run_id}/export: the run's hardware handoff as a tar archive.
HttpResponse run_export(store::TrackingStore& store, const LibraryRegistry* libraries, const std::string& run_id,
                        const Query& query) {
  if (Status s = check_query(query, {}); !s.ok()) return status_error(s);
  if (libraries == nullptr) return json_error(404, "this dashboard does not export runs");
  auto files = export_run(store, *libraries, run_id);
  if (!files.ok()) return status_error(files.status());
  HttpResponse response;
  response.content_type = "application/x-tar";
  response.body = export_tar(*files, run_id);
  response.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + export_tar_name(run_id) + "\"");
  return response;
}

// A route: the path's segments after "api", "{}" matching any one segment.
struct Route {
  std::vector<std::string_view> pattern;
  HttpResponse (*handle)(store::TrackingStore& store, const Arguments& args, const Query& query);
};

const Route kRoutes[] = {
    {{"experiments"}, &list_experiments},
    {{"experiments", "{}"}, &get_experiment},
    {{"experiments", "{}", "runs"}, &experiment_runs},
    {{"experiments", "{}", "energy"},
     [](store::TrackingStore& s, const Arguments& a, const Query& q) { return energy_points(s, a, q, false); }},
    {{"experiments", "{}", "pareto"},
     [](store::TrackingStore& s, const Arguments& a, const Query& q) { return energy_points(s, a, q, true); }},
    {{"runs", "{}"}, &get_run},
    {{"runs", "{}", "matching"}, &run_matching},
    {{"runs", "{}", "sweep"}, &run_sweep},
    {{"runs", "{}", "history"},
     [](store::TrackingStore& s, const Arguments& a, const Query& q) { return run_history(s, std::string(a[0]), q); }},
    {{"jobs"}, &list_jobs},
    {{"jobs", "{}"}, &get_job},
};

// True when `parts` ("api", ...) fit `pattern`; `arguments` get the {} segments.
bool matches(const std::vector<std::string_view>& pattern, const std::vector<std::string_view>& parts,
             std::vector<std::string_view>& arguments) {
  if (parts.size() != pattern.size() + 1) return false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == "{}") {
      arguments.push_back(parts[i + 1]);
    } else if (pattern[i] != parts[i + 1]) {
      return false;
    }
  }
  return true;
}

// GET /metrics: the registry in the Prometheus text format, never cached.
HttpResponse metrics_response(const MetricsRegistry& metrics) {
  HttpResponse response;
  response.content_type = kPrometheusContentType;
  response.body = metrics.render();
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

}  // namespace

HttpResponse json_error(unsigned status, std::string_view message) {
  HttpResponse response;
  response.status = status;
  response.body = dump(json{{"error", message}});
  return response;
}

Result<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) {
        return Status::invalid_argument("truncated %-escape at position " + std::to_string(i));
      }
      const int high = hex(text[i + 1]), low = hex(text[i + 2]);
      if (high < 0 || low < 0) return Status::invalid_argument("bad %-escape at position " + std::to_string(i));
      const char decoded = static_cast<char>(high * 16 + low);
      if (decoded == '\0') return Status::invalid_argument("%00 at position " + std::to_string(i));
      out.push_back(decoded);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

DashboardHandler::DashboardHandler(store::TrackingStore& store, HttpOptions options)
    : store_(store), options_(std::move(options)) {
  std::error_code ec;
  assets_root_ = std::filesystem::canonical(options_.assets_dir, ec);
  if (ec) assets_root_ = options_.assets_dir;
}

HttpResponse DashboardHandler::handle(const HttpRequest& request) const {
  const std::string_view target = request.target;
  const std::size_t question = target.find('?');
  const std::string_view raw_path = target.substr(0, question);
  const std::string_view raw_query = question == std::string_view::npos ? "" : target.substr(question + 1);
  const bool api = raw_path == "/api" || raw_path.starts_with("/api/");
  const bool metrics = raw_path == "/metrics" && options_.metrics != nullptr;

  if (request.method != "GET") {
    HttpResponse response = json_error(405, "method " + request.method + " is not allowed; the API is read-only");
    response.headers.emplace_back("Allow", "GET");
    return response;
  }
  if (target.empty() || target.front() != '/') return json_error(400, "the request target must start with '/'");

  auto path = percent_decode(raw_path, false);
  if (!path.ok()) return json_error(400, "path: " + path.status().message());

  if (!api && !metrics) return handle_static(*path);

  if (options_.authenticator && !options_.authenticator->authenticate(request.authorization)) {
    const bool has_bearer = bearer_token(request.authorization).has_value();
    HttpResponse response = json_error(
        401, has_bearer ? "the bearer token is wrong" : "this server requires 'Authorization: Bearer <token>'");
    response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"agnx\"");
    return response;
  }
  if (metrics) return metrics_response(*options_.metrics);

  Query query;
  std::string_view rest = raw_query;
  while (!rest.empty()) {
    const std::size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), true);
    if (!key.ok()) return json_error(400, "query parameter name: " + key.status().message());
    auto value = percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
    if (!value.ok()) return json_error(400, "parameter '" + *key + "': " + value.status().message());
    query.emplace_back(std::move(*key), std::move(*value));
  }
  HttpResponse response = handle_api(*path, query);
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

HttpResponse DashboardHandler::handle_api(std::string_view path, const Query& query) const {
  const std::vector<std::string_view> parts = split_path(path);  // parts[0] == "api"
  // The one route that needs more than the store.
  if (std::vector<std::string_view> arguments; matches({"runs", "{}", "export"}, parts, arguments)) {
    return run_export(store_, options_.libraries, std::string(arguments[0]), query);
  }
  for (const Route& route : kRoutes) {
    std::vector<std::string_view> arguments;
    if (matches(route.pattern, parts, arguments)) return route.handle(store_, arguments, query);
  }
  return json_error(404, "no API endpoint " + std::string(path));
}

HttpResponse DashboardHandler::handle_static(std::string_view path) const {
  std::filesystem::path file;
  if (path == "/" || path == "/index.html") {
    file = options_.assets_dir / "index.html";
  } else if (path == "/assets/vendor/chart.js") {
    file = options_.chartjs_file;
  } else if (path.starts_with("/assets/")) {
    const std::string_view relative = path.substr(8);
    for (std::string_view segment : split_path(relative)) {
      if (segment.empty() || segment == "." || segment == ".." || segment.find('\\') != std::string_view::npos) {
        return not_found_page(path);
      }
    }
    std::error_code ec;
    const std::filesystem::path resolved = std::filesystem::canonical(options_.assets_dir / relative, ec);
    if (ec) return not_found_page(path);
    // Symlinks must not lead out of the assets directory.
    const auto [root_end, ignored] = std::mismatch(assets_root_.begin(), assets_root_.end(), resolved.begin(),
                                                   resolved.end());
    if (root_end != assets_root_.end()) return not_found_page(path);
    file = resolved;
  } else {
    return not_found_page(path);
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) return not_found_page(path);
  auto content = read_file(file);
  if (!content) return not_found_page(path);
  HttpResponse response;
  response.content_type = content_type_of(file);
  response.body = std::move(*content);
  response.headers.emplace_back("Cache-Control", "no-cache");
  return response;
}

}  // namespace agnx::server
