#pragma once
// Whole numbers read from JSON that strangers write (train_options.json,
// adapter_config.json): nlohmann's get<int64_t>() casts a float such as
// 1e300 straight to an integer, which is undefined behaviour. A float is
// taken only when it is integral and in range; otherwise a type error.
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace qsenti {

inline int64_t json_whole_number(const nlohmann::json& v, const std::string& key) {
  if (v.is_number_float()) {
    const double d = v.get<double>();
    // 2^63 is exactly representable; anything at or beyond it is out of range.
    if (!std::isfinite(d) || d != std::floor(d) || d >= 9223372036854775808.0 || d < -9223372036854775808.0)
      throw std::invalid_argument("'" + key + "' must be a whole number, not " + v.dump());
    return static_cast<int64_t>(d);
  }
  if (!v.is_number_integer()) throw std::invalid_argument("'" + key + "' must be a whole number, not " + v.dump());
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
    throw std::invalid_argument("'" + key + "' is too large: " + v.dump());
  return v.get<int64_t>();
}

}  // namespace qsenti
