#include "server/run_export.h"

#include <cctype>
#include <cstdio>
#include <cstring>
#include <set>

namespace agnx::server {
namespace {

constexpr std::size_t kBlock = 512;

std::string export_directory(const std::string& run_id) {
  std::string safe;
  for (char c : run_id) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x80 && (std::isalnum(u) != 0 || c == '-' || c == '_') && safe.size() < 64) safe += c;
  }
  return "agnx-export-" + safe;
}

// Writes `value` as zero-padded octal into field [at, at + width - 1), NUL-terminated.
void octal(char* header, std::size_t at, std::size_t width, uint64_t value) {
  std::snprintf(header + at, width, "%0*llo", static_cast<int>(width - 1), static_cast<unsigned long long>(value));
}

// One ustar header: `name` (<= 100 bytes) under `prefix` (<= 155 bytes).
std::string tar_header(const std::string& prefix, const std::string& name, uint64_t size, bool directory,
                       bool executable) {
  char header[kBlock] = {};
  std::memcpy(header, name.data(), std::min<std::size_t>(name.size(), 100));
  octal(header, 100, 8, directory || executable ? 0755 : 0644);
  octal(header, 108, 8, 0);   // uid
  octal(header, 116, 8, 0);   // gid
  octal(header, 124, 12, size);
  octal(header, 136, 12, 0);  // mtime
  header[156] = directory ? '5' : '0';
  std::memcpy(header + 257, "ustar", 6);
  std::memcpy(header + 263, "00", 2);
  std::memcpy(header + 345, prefix.data(), std::min<std::size_t>(prefix.size(), 155));
  std::memset(header + 148, ' ', 8);
  unsigned checksum = 0;
  for (char c : header) checksum += static_cast<unsigned char>(c);
  std::snprintf(header + 148, 8, "%06o", checksum);  // six digits, NUL, then the space left in place
  return {header, kBlock};
}

}  // namespace

Result<std::vector<ExportedFile>> export_run(store::TrackingStore& store, const LibraryRegistry& libraries,
                                             const std::string& run_id) {
  AGNX_ASSIGN_OR_RETURN(const store::Run run, store.get_run(run_id));
  auto record = store.get_matching(run_id);
  if (!record.ok()) {
    if (record.status().code() != StatusCode::kNotFound) return record.status();
    return Status::failed_precondition("run '" + run_id +
                                       "' has no matching result to export (its matching job has not succeeded)");
  }
  auto library = libraries.find(record->info.library);
  if (!library.ok()) {
    return Status::failed_precondition("run '" + run_id + "' was matched against library '" +
                                       record->info.library + "', which this server no longer offers");
  }
  auto files = export_hardware(record->info, **library, {run_id, run.info.run_name, record->lambda});
  if (!files.ok()) return files.status().with_context("exporting run '" + run_id + "'");
  return files;
}

std::string export_tar(const std::vector<ExportedFile>& files, const std::string& run_id) {
  const std::string top = export_directory(run_id);
  std::string out = tar_header("", top + "/", 0, true, false);
  std::set<std::string> directories;
  for (const ExportedFile& file : files) {
    const std::size_t slash = file.name.rfind('/');
    if (slash != std::string::npos && directories.insert(file.name.substr(0, slash + 1)).second) {
      out += tar_header(top, file.name.substr(0, slash + 1), 0, true, false);
    }
    out += tar_header(top, file.name, file.content.size(), false, file.executable);
    out += file.content;
    out.append((kBlock - file.content.size() % kBlock) % kBlock, '\0');
  }
  return out.append(2 * kBlock, '\0');
}

std::string export_tar_name(const std::string& run_id) { return export_directory(run_id) + ".tar"; }

}  // namespace agnx::server
