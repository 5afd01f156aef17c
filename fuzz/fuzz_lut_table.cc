// parse_lut_table on arbitrary bytes in each format (the first byte picks
// it): an error is an InvalidArgument naming the source, a table has
// 65,536 products.
#include "core/lut_table.h"
#include "core/multiplier.h"
#include "fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace agnx;
  if (size == 0) return 0;
  constexpr LutFormat kFormats[] = {LutFormat::kBin, LutFormat::kNpy, LutFormat::kText};
  const LutFormat format = kFormats[data[0] % 3];
  const auto table = parse_lut_table(fuzz::as_text(data + 1, size - 1), format, "fuzz table");
  if (!table.ok()) {
    AGNX_FUZZ_CHECK(table.status().code() == StatusCode::kInvalidArgument);
    AGNX_FUZZ_CHECK(table.status().message().starts_with("fuzz table: "));
    return 0;
  }
  AGNX_FUZZ_CHECK(table->size() == kTableSize);
  return 0;
}
