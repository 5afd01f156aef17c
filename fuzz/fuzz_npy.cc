// parse_npy on arbitrary bytes: an error is an InvalidArgument naming the
// source; an array has the payload its shape needs, converts to int64 exactly
// when it is an integer array, and survives serialize_npy unchanged.
#include "core/npy.h"
#include "fuzz/fuzz_check.h"

namespace agnx {
namespace {

void check_round_trip(const NpyArray& array) {
  const auto again = parse_npy(serialize_npy(array), "round trip");
  AGNX_FUZZ_CHECK(again.ok());
  AGNX_FUZZ_CHECK(again->dtype == array.dtype);
  AGNX_FUZZ_CHECK(again->shape == array.shape);
  AGNX_FUZZ_CHECK(again->data == array.data);
}

}  // namespace
}  // namespace agnx

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace agnx;
  const auto array = parse_npy(fuzz::as_text(data, size), "fuzz.npy");
  if (!array.ok()) {
    AGNX_FUZZ_CHECK(array.status().code() == StatusCode::kInvalidArgument);
    AGNX_FUZZ_CHECK(array.status().message().starts_with("fuzz.npy: "));
    return 0;
  }
  AGNX_FUZZ_CHECK(array->data.size() == array->element_count() * npy_item_size(array->dtype));
  AGNX_FUZZ_CHECK(array->to_double().size() == array->element_count());
  const auto integers = array->to_int64("fuzz.npy");
  AGNX_FUZZ_CHECK(integers.ok() == array->is_integer());
  if (integers.ok()) AGNX_FUZZ_CHECK(integers->size() == array->element_count());
  check_round_trip(*array);
  return 0;
}
