#include "hub/http.h"

#include <curl/curl.h>
#include <strings.h>

#include <cctype>
#include <memory>
#include <mutex>

#include "util/error.h"

namespace qsenti::hub {

bool CaseInsensitiveLess::operator()(const std::string& a, const std::string& b) const {
  return ::strcasecmp(a.c_str(), b.c_str()) < 0;
}

std::optional<std::string> HttpResponse::header(const std::string& name) const {
  auto it = headers.find(name);
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

namespace {
std::string trim(const std::string& s);
}

void add_header_line(HttpResponse& resp, const std::string& line) {
  if (line.rfind("HTTP/", 0) == 0) {
    // A new response (after a 100 Continue, say): forget the previous headers.
    resp.headers.clear();
    const auto sp = line.find(' ');
    resp.status = sp == std::string::npos ? 0 : std::strtol(line.c_str() + sp + 1, nullptr, 10);
    return;
  }
  const auto colon = line.find(':');
  if (colon != std::string::npos) resp.headers[trim(line.substr(0, colon))] = trim(line.substr(colon + 1));
}

namespace {

// curl_global_init is not thread-safe; the first request of any thread pays it.
void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw Error("libcurl failed to initialise");
  });
}

struct Transfer {
  const HttpRequest* req;
  HttpResponse* resp;
  bool aborted = false;
  bool started = false;
};

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  add_header_line(*t->resp, std::string(data, size * n));
  return size * n;
}

size_t on_write(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = size * n;
  const bool ok_status = t->resp->status >= 200 && t->resp->status < 300;
  if (ok_status && t->req->on_body) {
    if (!t->started) {
      t->started = true;
      if (t->req->on_body_start && !t->req->on_body_start(t->resp->status, t->resp->headers)) {
        t->aborted = true;
        return 0;
      }
    }
    if (!t->req->on_body(data, len)) {
      t->aborted = true;
      return 0;  // makes curl stop with CURLE_WRITE_ERROR
    }
    return len;
  }
  // Error pages and JSON answers are small; a runaway body is cut at 4 MiB.
  if (t->resp->body.size() < (4u << 20)) t->resp->body.append(data, len);
  return len;
}

bool is_retryable(CURLcode c) {
  switch (c) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

}  // namespace

HttpResponse http_perform(const HttpRequest& req) {
  init_curl_once();
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) throw Error("libcurl: cannot create a handle");
  HttpResponse resp;
  Transfer t{&req, &resp};
  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // several threads download at once
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  if (req.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (req.method != "GET") {
    throw Error("http: unsupported method " + req.method);
  }
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(req.connect_timeout_s * 1000));
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(req.stall_timeout_s < 1 ? 1 : req.stall_timeout_s));
  curl_easy_setopt(h, CURLOPT_USERAGENT, "qsenti/" QSENTI_VERSION " (libcurl)");
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
  curl_slist* list = nullptr;
  for (const auto& [k, v] : req.headers) list = curl_slist_append(list, (k + ": " + v).c_str());
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> headers(list, curl_slist_free_all);
  if (list) curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);

  const CURLcode rc = curl_easy_perform(h);
  if (rc != CURLE_OK) {
    std::string msg = req.method + " " + req.url + ": " + (errbuf[0] ? errbuf : curl_easy_strerror(rc));
    throw TransportError(msg, !t.aborted && is_retryable(rc), t.aborted);
  }
  long code = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  if (code) resp.status = code;
  return resp;
}

std::string url_quote(const std::string& s, bool keep_slash) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

UrlParts split_url(const std::string& url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) throw Error("not an absolute URL: " + url);
  UrlParts p;
  p.scheme = url.substr(0, scheme_end);
  const auto auth_begin = scheme_end + 3;
  const auto path_begin = url.find_first_of("/?#", auth_begin);
  p.authority = url.substr(auth_begin, path_begin == std::string::npos ? std::string::npos : path_begin - auth_begin);
  p.path_and_query = path_begin == std::string::npos ? "/" : url.substr(path_begin);
  return p;
}

std::string resolve_location(const std::string& base, const std::string& location) {
  if (location.find("://") != std::string::npos) return location;
  const UrlParts b = split_url(base);
  if (location.rfind("//", 0) == 0) return b.scheme + ":" + location;
  if (!location.empty() && location[0] == '/') return b.scheme + "://" + b.authority + location;
  // A path relative to the current folder: the Hub does not send these, but be exact.
  std::string dir = b.path_and_query.substr(0, b.path_and_query.find_first_of("?#"));
  dir = dir.substr(0, dir.rfind('/') + 1);
  return b.scheme + "://" + b.authority + dir + location;
}

bool same_authority(const std::string& a, const std::string& b) {
  const UrlParts pa = split_url(a), pb = split_url(b);
  return ::strcasecmp(pa.authority.c_str(), pb.authority.c_str()) == 0 &&
         ::strcasecmp(pa.scheme.c_str(), pb.scheme.c_str()) == 0;
}

}  // namespace qsenti::hub
