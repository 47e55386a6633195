#pragma once
// Errors the HTTP service answers with, in text-embeddings-inference's shape
// ({"error": "...", "error_type": "Validation"}) so TEI's clients read them.
#include <stdexcept>
#include <string>

namespace qsenti::serve {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string type, const std::string& message)
      : std::runtime_error(message), status_(status), type_(std::move(type)) {}
  int status() const { return status_; }
  const std::string& type() const { return type_; }  // Validation, Empty, Overloaded, ...
  std::string body() const;                           // the JSON answer

  // The kinds the issue and TEI name, with their status codes.
  static ApiError validation(const std::string& m) { return {422, "Validation", m}; }
  static ApiError too_large(const std::string& m) { return {413, "Validation", m}; }
  static ApiError empty(const std::string& m) { return {400, "Empty", m}; }
  static ApiError overloaded() { return {429, "Overloaded", "Model is overloaded"}; }
  static ApiError backend(const std::string& m) { return {424, "Backend", m}; }
  static ApiError unauthorized() { return {401, "Unauthorized", "missing or wrong API key (Authorization: Bearer KEY)"}; }
  static ApiError not_found(const std::string& m) { return {404, "NotFound", m}; }

 private:
  int status_;
  std::string type_;
};

}  // namespace qsenti::serve
