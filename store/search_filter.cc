#include "store/search_filter.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <optional>
#include <tuple>
#include <utility>

namespace agnx::store {
namespace {

bool is_key_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.' || c == '/' || c == ':' || c == '-';
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

bool is_numeric(const Comparison& c) {
  return c.entity == FilterEntity::kMetric || (c.entity == FilterEntity::kAttribute && c.key == "start_time");
}

// A cursor over the text being parsed; errors point at its position.
class Parser {
 public:
  Parser(std::string what, std::string_view text) : what_(std::move(what)), text_(text) {}

  bool at_end() {
    skip_spaces();
    return pos_ == text_.size();
  }

  Status error(std::string expected) const {
    std::string near(text_.substr(pos_, 12));
    return Status::invalid_argument(what_ + ": at position " + std::to_string(pos_) +
                                    (near.empty() ? std::string(" (end)") : " ('" + near + "')") + ": expected " +
                                    std::move(expected));
  }

  // A word of letters ("AND", "ASC", "metrics", ...), or "" if none.
  std::string_view word() {
    skip_spaces();
    const std::size_t begin = pos_;
    while (pos_ < text_.size() && std::isalpha(static_cast<unsigned char>(text_[pos_])) != 0) ++pos_;
    return text_.substr(begin, pos_ - begin);
  }

  // "entity.key" -> (entity, key), with the attributes' keys checked.
  Result<std::pair<FilterEntity, std::string>> identifier() {
    skip_spaces();
    const std::size_t begin = pos_;
    const std::string_view name = word();
    std::optional<FilterEntity> entity;
    if (name == "params" || name == "param") entity = FilterEntity::kParam;
    if (name == "metrics" || name == "metric") entity = FilterEntity::kMetric;
    if (name == "tags" || name == "tag") entity = FilterEntity::kTag;
    if (name == "attributes" || name == "attribute" || name == "attr") entity = FilterEntity::kAttribute;
    if (!entity) {
      pos_ = begin;
      return error("params., metrics., tags. or attributes.");
    }
    if (pos_ == text_.size() || text_[pos_] != '.') return error("'.' after '" + std::string(name) + "'");
    ++pos_;
    const std::size_t key_begin = pos_;
    AGNX_ASSIGN_OR_RETURN(std::string key, this->key());
    if (*entity == FilterEntity::kAttribute && key != "status" && key != "run_name" && key != "start_time") {
      pos_ = key_begin;
      return error("an attribute: status, run_name or start_time");
    }
    return std::pair{*entity, std::move(key)};
  }

  Result<FilterOp> op() {
    skip_spaces();
    static constexpr std::pair<std::string_view, FilterOp> kOps[] = {
        {"!=", FilterOp::kNe}, {"<=", FilterOp::kLe}, {">=", FilterOp::kGe},
        {"=", FilterOp::kEq},  {"<", FilterOp::kLt},  {">", FilterOp::kGt}};
    for (const auto& [spelling, op] : kOps) {
      if (text_.substr(pos_).starts_with(spelling)) {
        pos_ += spelling.size();
        return op;
      }
    }
    const std::size_t begin = pos_;
    if (iequals(word(), "LIKE")) return FilterOp::kLike;
    pos_ = begin;
    return error("a comparison operator (=, !=, <, <=, >, >=, LIKE)");
  }

  Result<std::variant<std::string, double>> value() {
    skip_spaces();
    if (pos_ < text_.size() && (text_[pos_] == '\'' || text_[pos_] == '"')) return quoted(text_[pos_]);
    double number = 0.0;
    const char* begin = text_.data() + pos_;
    const auto [end, ec] = std::from_chars(begin, text_.data() + text_.size(), number);
    if (ec != std::errc() || (end < text_.data() + text_.size() && is_key_char(*end))) {
      return error("a value: a quoted string or a number");
    }
    if (std::isnan(number)) return error("a number, not NaN (no run's value compares with it)");
    pos_ += static_cast<std::size_t>(end - begin);
    return std::variant<std::string, double>(number);
  }

  // The position of the next token.
  std::size_t position() {
    skip_spaces();
    return pos_;
  }
  void rewind(std::size_t pos) { pos_ = pos; }

 private:
  void skip_spaces() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_])) != 0) ++pos_;
  }

  Result<std::string> key() {
    if (pos_ < text_.size() && text_[pos_] == '`') {
      const std::size_t close = text_.find('`', pos_ + 1);
      if (close == std::string_view::npos || close == pos_ + 1) return error("a non-empty key closed by '`'");
      std::string key(text_.substr(pos_ + 1, close - pos_ - 1));
      pos_ = close + 1;
      return key;
    }
    const std::size_t begin = pos_;
    while (pos_ < text_.size() && is_key_char(text_[pos_])) ++pos_;
    if (pos_ == begin) return error("a key");
    return std::string(text_.substr(begin, pos_ - begin));
  }

  Result<std::variant<std::string, double>> quoted(char quote) {
    const std::size_t close = text_.find(quote, pos_ + 1);
    if (close == std::string_view::npos) return error(std::string("a string closed by ") + quote);
    std::string value(text_.substr(pos_ + 1, close - pos_ - 1));
    pos_ = close + 1;
    return std::variant<std::string, double>(std::move(value));
  }

  std::string what_;
  std::string_view text_;
  std::size_t pos_ = 0;
};

Result<Comparison> parse_comparison(Parser& parser) {
  Comparison c;
  AGNX_ASSIGN_OR_RETURN(std::tie(c.entity, c.key), parser.identifier());
  const std::size_t op_pos = parser.position();
  AGNX_ASSIGN_OR_RETURN(c.op, parser.op());
  if (is_numeric(c) && c.op == FilterOp::kLike) {
    parser.rewind(op_pos);
    return parser.error("=, !=, <, <=, > or >= for the numeric " + c.key);
  }
  if (!is_numeric(c) && c.op != FilterOp::kEq && c.op != FilterOp::kNe && c.op != FilterOp::kLike) {
    parser.rewind(op_pos);
    return parser.error("=, != or LIKE for the string " + c.key);
  }
  const std::size_t value_pos = parser.position();
  AGNX_ASSIGN_OR_RETURN(c.value, parser.value());
  if (is_numeric(c) != std::holds_alternative<double>(c.value)) {
    parser.rewind(value_pos);
    return parser.error(is_numeric(c) ? "a number for " + c.key : "a quoted string for " + c.key);
  }
  return c;
}

}  // namespace

const char* filter_op_sql(FilterOp op) {
  switch (op) {
    case FilterOp::kEq: return "=";
    case FilterOp::kNe: return "!=";
    case FilterOp::kLt: return "<";
    case FilterOp::kLe: return "<=";
    case FilterOp::kGt: return ">";
    case FilterOp::kGe: return ">=";
    case FilterOp::kLike: return "LIKE";
  }
  return "=";
}

Result<std::vector<Comparison>> parse_filter(std::string_view filter) {
  Parser parser("filter", filter);
  std::vector<Comparison> comparisons;
  if (parser.at_end()) return comparisons;
  while (true) {
    AGNX_ASSIGN_OR_RETURN(Comparison c, parse_comparison(parser));
    comparisons.push_back(std::move(c));
    if (parser.at_end()) return comparisons;
    const std::size_t before = parser.position();
    if (!iequals(parser.word(), "AND")) {
      parser.rewind(before);
      return parser.error("AND or the end of the filter");
    }
  }
}

Result<OrderKey> parse_order_by(std::string_view clause) {
  Parser parser("order_by '" + std::string(clause) + "'", clause);
  OrderKey order;
  AGNX_ASSIGN_OR_RETURN(std::tie(order.entity, order.key), parser.identifier());
  if (parser.at_end()) return order;
  const std::size_t before = parser.position();
  const std::string_view direction = parser.word();
  if (iequals(direction, "DESC")) order.ascending = false;
  else if (!iequals(direction, "ASC")) {
    parser.rewind(before);
    return parser.error("ASC, DESC or the end");
  }
  if (!parser.at_end()) return parser.error("the end");
  return order;
}

}  // namespace agnx::store
