// JobNotice: what one replica tells the others about jobs, through the
// store's notices (store/notices.h), as a small JSON payload: a job was
// submitted (claim now), a job was asked to stop (its replica stops it now),
// or a job's live progress (followers on any replica see every stage and
// step, not only what the store keeps).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "server/job_progress.h"

namespace agnx::server {

struct JobNotice {
  enum class Kind { kSubmitted, kCancel, kProgress };
  Kind kind = Kind::kSubmitted;
  std::string sender;    // the sending replica's id
  int64_t job_id = 0;    // kCancel, kProgress
  JobProgressView progress;  // kProgress; its version is the receiver's own
};

// The payload of `notice`, within store::kMaxNoticeBytes: a long message is
// cut short.
std::string encode_job_notice(const JobNotice& notice);
// The notice `payload` encodes; nullopt for anything else (another sender's
// format, a damaged payload).
std::optional<JobNotice> decode_job_notice(std::string_view payload);

}  // namespace agnx::server
