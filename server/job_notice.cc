#include "server/job_notice.h"

#include <nlohmann/json.hpp>

#include "store/notices.h"

namespace agnx::server {
namespace {

using Json = nlohmann::json;

constexpr std::size_t kLongestMessage = 1000;  // bytes of a progress message carried (JSON may escape each in 6)

const char* kind_name(JobNotice::Kind kind) {
  switch (kind) {
    case JobNotice::Kind::kSubmitted: return "submitted";
    case JobNotice::Kind::kCancel: return "cancel";
    case JobNotice::Kind::kProgress: return "progress";
  }
  return "";
}

std::optional<JobNotice::Kind> kind_named(const std::string& name) {
  for (const auto kind : {JobNotice::Kind::kSubmitted, JobNotice::Kind::kCancel, JobNotice::Kind::kProgress}) {
    if (name == kind_name(kind)) return kind;
  }
  return std::nullopt;
}

Json progress_json(const JobProgressView& v) {
  return {{"state", store::job_state_name(v.state)},
          {"stage", v.stage},
          {"step", v.step},
          {"steps", v.steps},
          {"epoch", v.epoch},
          {"epochs", v.epochs},
          {"point", v.point},
          {"points", v.points},
          {"fraction", v.fraction},
          {"message", v.message.substr(0, kLongestMessage)}};
}

// A count field; throws (nlohmann's exceptions) unless it is one.
std::size_t count(const Json& j, const char* key) {
  if (!j.at(key).is_number_unsigned()) throw Json::type_error::create(302, std::string(key) + " is no count", &j);
  return j.at(key).get<std::size_t>();
}

// Throws (nlohmann's exceptions) on a missing or mistyped field.
std::optional<JobProgressView> progress_from(const Json& j) {
  const auto state = store::parse_job_state(j.at("state").get<std::string>());
  if (!state.ok()) return std::nullopt;
  JobProgressView v;
  v.state = *state;
  v.stage = j.at("stage").get<std::string>();
  v.step = count(j, "step");
  v.steps = count(j, "steps");
  v.epoch = count(j, "epoch");
  v.epochs = count(j, "epochs");
  v.point = count(j, "point");
  v.points = count(j, "points");
  v.fraction = j.at("fraction").get<double>();
  v.message = j.at("message").get<std::string>();
  return v;
}

}  // namespace

std::string encode_job_notice(const JobNotice& notice) {
  Json j = {{"agnx_job_notice", kind_name(notice.kind)}, {"sender", notice.sender}, {"job_id", notice.job_id}};
  if (notice.kind == JobNotice::Kind::kProgress) j["progress"] = progress_json(notice.progress);
  // Invalid UTF-8 in a message is replaced, not thrown on.
  std::string payload = j.dump(-1, ' ', false, Json::error_handler_t::replace);
  return payload.size() <= store::kMaxNoticeBytes ? payload : "";
}

std::optional<JobNotice> decode_job_notice(std::string_view payload) {
  const Json j = Json::parse(payload, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("agnx_job_notice")) return std::nullopt;
  try {
    const auto kind = kind_named(j.at("agnx_job_notice").get<std::string>());
    if (!kind) return std::nullopt;
    JobNotice notice{*kind, j.at("sender").get<std::string>(), j.at("job_id").get<int64_t>(), {}};
    if (*kind == JobNotice::Kind::kProgress) {
      const auto progress = progress_from(j.at("progress"));
      if (!progress) return std::nullopt;
      notice.progress = *progress;
    }
    return notice;
  } catch (const Json::exception&) {
    return std::nullopt;
  }
}

}  // namespace agnx::server
