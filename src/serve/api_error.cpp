#include "serve/api_error.h"

#include <nlohmann/json.hpp>

namespace qsenti::serve {

std::string ApiError::body() const {
  nlohmann::json j{{"error", what()}, {"error_type", type_}};
  // Messages may quote client bytes: never let invalid UTF-8 throw here.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace qsenti::serve
