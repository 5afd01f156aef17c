// parse_filter and parse_order_by on arbitrary text: an error is an
// InvalidArgument pointing at a position; what parses obeys the grammar's
// typing (numbers, never NaN, for metrics and start_time; LIKE only for
// strings) and parses back to the same from its canonical spelling.
#include <charconv>
#include <cmath>
#include <optional>
#include <string>

#include "fuzz/fuzz_check.h"
#include "store/search_filter.h"

namespace agnx::store {
namespace {

const char* entity_prefix(FilterEntity entity) {
  switch (entity) {
    case FilterEntity::kParam: return "params.";
    case FilterEntity::kMetric: return "metrics.";
    case FilterEntity::kTag: return "tags.";
    case FilterEntity::kAttribute: return "attributes.";
  }
  return "";
}

bool is_numeric(const Comparison& c) {
  return c.entity == FilterEntity::kMetric || (c.entity == FilterEntity::kAttribute && c.key == "start_time");
}

// `value` as the filter grammar spells it; nullopt for a string holding
// both kinds of quotes, which no literal can.
std::optional<std::string> spelling(const std::variant<std::string, double>& value) {
  if (const double* number = std::get_if<double>(&value)) {
    char buffer[64];
    return std::string(buffer, std::to_chars(buffer, buffer + sizeof buffer, *number).ptr);
  }
  const std::string& text = std::get<std::string>(value);
  for (char quote : {'\'', '"'}) {
    if (text.find(quote) == std::string::npos) return quote + text + quote;
  }
  return std::nullopt;
}

void check_filter(std::string_view text) {
  const auto comparisons = parse_filter(text);
  if (!comparisons.ok()) {
    AGNX_FUZZ_CHECK(comparisons.status().code() == StatusCode::kInvalidArgument);
    AGNX_FUZZ_CHECK(comparisons.status().message().starts_with("filter: at position "));
    return;
  }
  std::string canonical;
  for (const Comparison& c : *comparisons) {
    AGNX_FUZZ_CHECK(!c.key.empty());
    AGNX_FUZZ_CHECK(is_numeric(c) == std::holds_alternative<double>(c.value));
    AGNX_FUZZ_CHECK(!(is_numeric(c) && c.op == FilterOp::kLike));
    if (const double* number = std::get_if<double>(&c.value)) AGNX_FUZZ_CHECK(!std::isnan(*number));
    const auto value = spelling(c.value);
    if (!value) return;
    canonical += (canonical.empty() ? "" : " AND ") + std::string(entity_prefix(c.entity)) + "`" + c.key + "` " +
                 filter_op_sql(c.op) + " " + *value;
  }
  const auto again = parse_filter(canonical);
  AGNX_FUZZ_CHECK(again.ok());
  AGNX_FUZZ_CHECK(again->size() == comparisons->size());
  for (std::size_t i = 0; i < again->size(); ++i) {
    const Comparison& a = (*comparisons)[i];
    const Comparison& b = (*again)[i];
    AGNX_FUZZ_CHECK(a.entity == b.entity && a.key == b.key && a.op == b.op && a.value == b.value);
  }
}

void check_order_by(std::string_view text) {
  const auto order = parse_order_by(text);
  if (!order.ok()) {
    AGNX_FUZZ_CHECK(order.status().code() == StatusCode::kInvalidArgument);
    AGNX_FUZZ_CHECK(order.status().message().starts_with("order_by '"));
    return;
  }
  AGNX_FUZZ_CHECK(!order->key.empty());
  const std::string canonical =
      std::string(entity_prefix(order->entity)) + "`" + order->key + "`" + (order->ascending ? " ASC" : " DESC");
  const auto again = parse_order_by(canonical);
  AGNX_FUZZ_CHECK(again.ok());
  AGNX_FUZZ_CHECK(again->entity == order->entity && again->key == order->key && again->ascending == order->ascending);
}

}  // namespace
}  // namespace agnx::store

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view text = agnx::fuzz::as_text(data, size);
  agnx::store::check_filter(text);
  agnx::store::check_order_by(text);
  return 0;
}
