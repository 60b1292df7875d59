// kiln::Error and the KILN_CHECK macro: misuse inside a program (a shape
// mismatch in an op, a wrong dtype) throws kiln::Error naming the op and the
// offending values. Bad input from outside (files, configs) uses absl::Status.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include "absl/strings/str_cat.h"

namespace kiln {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

namespace detail {
[[noreturn]] void throw_error(const char* file, int line, const std::string& message);

// absl::StrCat that also takes std::string_view (Debian's Abseil has its own
// string_view type).
template <class T>
decltype(auto) str_cat_arg(const T& value) {
  if constexpr (std::is_convertible_v<const T&, std::string_view> &&
                !std::is_convertible_v<const T&, absl::string_view>) {
    const std::string_view view = value;
    return absl::string_view(view.data(), view.size());
  } else {
    return (value);
  }
}
template <class... Args>
std::string str_cat(const Args&... args) {
  return absl::StrCat(str_cat_arg(args)...);
}
}  // namespace detail

}  // namespace kiln

// KILN_CHECK(cond, parts...): throws kiln::Error with absl::StrCat(parts...)
// when cond is false. Use the op name as the first part: "matmul: ...".
#define KILN_CHECK(cond, ...)                                                                \
  do {                                                                                       \
    if (!(cond)) [[unlikely]] {                                                              \
      ::kiln::detail::throw_error(__FILE__, __LINE__, ::kiln::detail::str_cat(__VA_ARGS__)); \
    }                                                                                        \
  } while (false)

#define KILN_FAIL(...) \
  ::kiln::detail::throw_error(__FILE__, __LINE__, ::kiln::detail::str_cat(__VA_ARGS__))
