#pragma once
// A small synchronous HTTP layer over libcurl for the hub client: one request,
// redirects never followed (the caller decides which to follow), the body
// streamed to a callback, response headers kept case-insensitively.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace qsenti::hub {

// Header names compared case-insensitively, as HTTP says.
struct CaseInsensitiveLess {
  bool operator()(const std::string& a, const std::string& b) const;
};
using HeaderMap = std::map<std::string, std::string, CaseInsensitiveLess>;

struct HttpRequest {
  std::string method = "GET";  // GET or HEAD
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  double connect_timeout_s = 10;
  // A transfer that moves no byte for this long is dropped (a stalled CDN).
  double stall_timeout_s = 30;
  // Called once before the first chunk of a 2xx body with the status and
  // headers (a 200 to a Range request means start over); false aborts.
  std::function<bool(long status, const HeaderMap& headers)> on_body_start;
  // Called with each chunk of a 2xx body; returning false aborts the transfer.
  // Unset: the body is kept in HttpResponse::body (for small JSON answers).
  std::function<bool(const char* data, size_t n)> on_body;
};

struct HttpResponse {
  long status = 0;
  HeaderMap headers;  // of the last response (curl does not follow redirects here)
  std::string body;   // only without on_body, or for an error status
  std::optional<std::string> header(const std::string& name) const;
};

// A transport failure: no answer, or one cut short. `retryable` for the
// transient kinds (refused or dropped connections, timeouts, a body cut short).
class TransportError : public std::runtime_error {
 public:
  TransportError(const std::string& msg, bool retryable, bool aborted_by_callback)
      : std::runtime_error(msg), retryable_(retryable), aborted_(aborted_by_callback) {}
  bool retryable() const { return retryable_; }
  bool aborted_by_callback() const { return aborted_; }

 private:
  bool retryable_;
  bool aborted_;
};

// One response header line as curl hands it ("HTTP/1.1 302 Found\r\n" starts
// a new response; "Name: value\r\n" adds a header).
void add_header_line(HttpResponse& resp, const std::string& line);

// Performs one request. Throws TransportError; any HTTP status is returned.
HttpResponse http_perform(const HttpRequest& request);

// Percent-encodes everything but unreserved characters (keep_slash: also '/').
std::string url_quote(const std::string& s, bool keep_slash);

struct UrlParts {
  std::string scheme, authority, path_and_query;  // "http", "host:port", "/a?b"
};
// Splits an absolute URL; throws qsenti::Error for anything else.
UrlParts split_url(const std::string& url);
// `location` (absolute, or a path relative to the server) resolved against `base`.
std::string resolve_location(const std::string& base, const std::string& location);
bool same_authority(const std::string& a, const std::string& b);

}  // namespace qsenti::hub
