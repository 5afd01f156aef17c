// The job kinds this server runs.
#include "server/job_context.h"
#include "server/matching_job.h"
#include "server/training_job.h"

namespace agnx::server {

JobHandler find_job_handler(std::string_view kind) {
  struct Kind {
    std::string_view name;
    JobHandler handler;
  };
  static constexpr Kind kKinds[] = {{kMatchingKind, &run_matching_job},
                                    {kSearchKind, &run_training_job},
                                    {kRetrainKind, &run_training_job},
                                    {kSweepKind, &run_training_job}};
  for (const Kind& k : kKinds) {
    if (k.name == kind) return k.handler;
  }
  return nullptr;
}

}  // namespace agnx::server
