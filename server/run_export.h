// The hardware handoff of a stored run (core/hardware_export.h), shared by
// the Matching service's DownloadRunExport and the dashboard's download.
#pragma once

#include <string>
#include <vector>

#include "core/hardware_export.h"
#include "core/status.h"
#include "server/library_registry.h"
#include "store/tracking_store.h"

namespace agnx::server {

// The export of run `run_id`'s matching result, with the multipliers of the
// library it was matched against. Errors: an unknown run (kNotFound); a run
// without a matching result, or whose library `libraries` no longer offers
// or no longer holds a chosen multiplier (kFailedPrecondition, naming it).
Result<std::vector<ExportedFile>> export_run(store::TrackingStore& store, const LibraryRegistry& libraries,
                                             const std::string& run_id);

// The files as one POSIX ustar archive under the directory
// "agnx-export-<run id>" (the run id's letters, digits, '-' and '_' only):
// modes 0644 and 0755 for executables and directories, owner 0, time 0, so
// the same files give the same bytes. REQUIRES: names as export_hardware
// gives them (at most 100 bytes).
std::string export_tar(const std::vector<ExportedFile>& files, const std::string& run_id);

// The archive's file name: "agnx-export-<run id>.tar", as above.
std::string export_tar_name(const std::string& run_id);

}  // namespace agnx::server
