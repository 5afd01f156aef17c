// load_lut_directory and load_lut_files (the API's library import) on files
// cut from the input and written to a directory of this process:
//   byte 0    options: table format (% 3: bin, npy, txt), signedness
//             (/ 3 % 3: from metrics.csv, signed, unsigned), entry point
//             (/ 9 % 2: load_lut_directory, load_lut_files)
//   then      metrics.csv, up to the first "\n@@ "
//   then      up to four files, each "\n@@ NAME\n" and its contents up to the
//             next "\n@@ " (NAME: letters, digits, . _ -; others are skipped)
// An error is a Status with a message; a library holds valid multipliers,
// each with the library metric.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "core/lut_directory.h"
#include "fuzz/fuzz_check.h"

namespace agnx {
namespace {

constexpr std::string_view kSeparator = "\n@@ ";
constexpr std::size_t kMaxFiles = 4;

// A directory of this process, emptied for each input, removed at exit.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "agnx_fuzz_lut_XXXXXX").string();
    AGNX_FUZZ_CHECK(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  void empty() const {
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(path_, error)) {
      std::filesystem::remove_all(entry.path(), error);
    }
    AGNX_FUZZ_CHECK(!error);
  }

 private:
  std::filesystem::path path_;
};

bool is_plain_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || name[0] == '.' || name == "metrics.csv") return false;
  return name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
         std::string_view::npos;
}

void write_file(const std::filesystem::path& path, std::string_view contents) {
  std::ofstream(path, std::ios::binary).write(contents.data(), static_cast<std::streamsize>(contents.size()));
}

// Writes metrics.csv and the named files of `input` to `dir`; returns the
// paths of the named files.
std::vector<std::filesystem::path> write_files(std::string_view input, const std::filesystem::path& dir) {
  std::size_t end = input.find(kSeparator);
  write_file(dir / "metrics.csv", input.substr(0, end));
  std::vector<std::filesystem::path> files;
  while (end != std::string_view::npos && files.size() < kMaxFiles) {
    input.remove_prefix(end + kSeparator.size());
    end = input.find(kSeparator);
    const std::string_view section = input.substr(0, end);  // NAME, newline, contents
    const std::size_t name_end = section.find('\n');
    if (name_end == std::string_view::npos || !is_plain_name(section.substr(0, name_end))) continue;
    files.push_back(dir / std::string(section.substr(0, name_end)));
    write_file(files.back(), section.substr(name_end + 1));
  }
  return files;
}

void check_library(const Result<MultiplierLibrary>& library, const std::string& metric) {
  if (!library.ok()) {
    AGNX_FUZZ_CHECK(!library.status().message().empty());
    return;
  }
  for (const auto& m : library->multipliers()) {
    AGNX_FUZZ_CHECK(m->table().size() == kTableSize);
    AGNX_FUZZ_CHECK(m->metric(metric).has_value());
  }
}

}  // namespace
}  // namespace agnx

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace agnx;
  static const ScratchDir dir;
  if (size == 0) return 0;
  constexpr LutFormat kFormats[] = {LutFormat::kBin, LutFormat::kNpy, LutFormat::kText};
  constexpr std::optional<Signedness> kSignedness[] = {std::nullopt, Signedness::kSigned, Signedness::kUnsigned};
  dir.empty();
  const std::vector<std::filesystem::path> files = write_files(fuzz::as_text(data + 1, size - 1), dir.path());
  const std::string metric = kDefaultLutMetric;
  if (data[0] / 9 % 2 == 0) {
    LutDirectoryOptions options;
    options.format = kFormats[data[0] % 3];
    options.signedness = kSignedness[data[0] / 3 % 3];
    check_library(load_lut_directory(dir.path(), options), metric);
  } else {
    check_library(load_lut_files("fuzz", files, dir.path() / "metrics.csv", metric, kSignedness[data[0] / 3 % 3]),
                  metric);
  }
  return 0;
}
