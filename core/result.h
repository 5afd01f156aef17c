// BasicResult<T, E>: either a value of type T or an error E, for errors as
// values. E is a status type with a default constructor meaning OK and an
// ok() member (agnx::Status in core/, client::Status in client/).
//
// Header-only and free of dependencies, so that client/ shares it without
// depending on core/'s engine. A plain value: copyable, movable, safe to share
// between threads as long as nobody mutates it concurrently.
#pragma once

#include <cassert>
#include <utility>
#include <variant>

namespace agnx {

template <typename T, typename E>
class BasicResult {
 public:
  BasicResult(T value) : state_(std::move(value)) {}  // NOLINT: implicit by design
  BasicResult(E error) : state_(std::move(error)) {   // NOLINT: implicit by design
    assert(!std::get<E>(state_).ok() && "a Result needs a value or an error");
  }

  bool ok() const { return std::holds_alternative<T>(state_); }

  // The error; an OK E when the result holds a value.
  E status() const { return ok() ? E() : std::get<E>(state_); }

  // REQUIRES: ok(). On a temporary result these return the value itself, so
  // `for (auto v : *make_result())` does not dangle.
  const T& value() const& { return std::get<T>(state_); }
  T& value() & { return std::get<T>(state_); }
  T value() && { return std::get<T>(std::move(state_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  T operator*() && { return std::move(*this).value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

 private:
  std::variant<T, E> state_;
};

}  // namespace agnx
