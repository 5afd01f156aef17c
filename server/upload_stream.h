// The one reader of agnx's client-streaming uploads (SubmitMatching,
// SubmitTraining, ImportLibrary, UploadArtifact): a header first, then
// chunks, each appended to the file it names, within a byte limit.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>

#include <grpcpp/support/status.h>

#include "server/grpc_status.h"

namespace agnx::server {

// Where a chunk message's bytes go: `file` is null for a message that is not
// a chunk (another header, or no part at all).
struct UploadChunk {
  std::string* file = nullptr;
  const std::string* data = nullptr;
};

// What an upload stream is called in its errors.
struct UploadNames {
  std::string header;  // "the matching header"
  std::string field;   // the field a too-large upload names: "upload"
  std::string what;    // "submission": "the submission exceeds the server's limit ..."
};

// Reads the stream from `next` (false at its end): the header into
// `header`, then each chunk through `chunk_of`, which may refuse one with an
// error status. Errors: INVALID_ARGUMENT naming "header" when the first
// message is not the header or a later one is no chunk; RESOURCE_EXHAUSTED
// naming `names.field` as soon as the chunks exceed `limit` bytes in all
// (the rest of the stream is not read).
template <typename Message, typename Header>
grpc::Status read_upload_stream(const std::function<bool(Message&)>& next, std::size_t limit,
                                const UploadNames& names, Header& header,
                                const std::function<grpc::Status(const Message&, UploadChunk&)>& chunk_of) {
  Message message;
  if (!next(message) || !message.has_header()) {
    return invalid_field("header", "the first message must be " + names.header);
  }
  header = message.header();
  std::size_t total = 0;
  while (next(message)) {
    UploadChunk chunk;
    if (grpc::Status refused = chunk_of(message, chunk); !refused.ok()) return refused;
    if (!chunk.file) return invalid_field("header", "only the first message may be the header");
    total += chunk.data->size();
    if (total > limit) return upload_too_large(names.field, names.what, limit);
    chunk.file->append(*chunk.data);
  }
  return grpc::Status::OK;
}

}  // namespace agnx::server
