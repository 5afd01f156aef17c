// A few of ../shared's EvoApprox multipliers as a LUT directory's files,
// for tests that import a library of their own: through gRPC
// (import_library) or as a directory for `agnx multipliers import`.
#pragma once

#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "agnapprox/v1/agnx.grpc.pb.h"

namespace agnx::testing {

// (file name, content): "metrics.csv" with the header and the rows of
// `names`, then "NAME.bin" for each of them.
inline std::vector<std::pair<std::string, std::string>> evoapprox_subset(const std::filesystem::path& shared,
                                                                         const std::vector<std::string>& names) {
  const auto read = [](const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  std::ifstream csv(shared / "evoapprox/metrics.csv");
  std::string metrics, line;
  std::getline(csv, metrics);
  metrics += "\n";
  while (std::getline(csv, line)) {
    for (const auto& name : names) {
      if (line.rfind(name + ",", 0) == 0) metrics += line + "\n";
    }
  }
  std::vector<std::pair<std::string, std::string>> files{{"metrics.csv", metrics}};
  for (const auto& name : names) files.emplace_back(name + ".bin", read(shared / "evoapprox" / (name + ".bin")));
  return files;
}

// Streams `files` to Multipliers.ImportLibrary as library `name`.
inline grpc::Status import_library(::agnapprox::v1::Multipliers::Stub& multipliers, const std::string& name,
                                   const std::vector<std::pair<std::string, std::string>>& files,
                                   ::agnapprox::v1::Library* reply) {
  grpc::ClientContext context;
  auto writer = multipliers.ImportLibrary(&context, reply);
  ::agnapprox::v1::ImportLibraryRequest message;
  message.mutable_header()->set_name(name);
  writer->Write(message);
  for (const auto& [file_name, content] : files) {
    message.mutable_file()->set_file_name(file_name);
    message.mutable_file()->set_data(content);
    if (!writer->Write(message)) break;
  }
  writer->WritesDone();
  return writer->Finish();
}

}  // namespace agnx::testing
