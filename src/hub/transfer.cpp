#include "hub/transfer.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <thread>

#include "hub/digest.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace qsenti::hub {

namespace {

int64_t file_size_or_zero(const std::string& path) {
  std::error_code ec;
  const auto s = fs::file_size(path, ec);
  return ec ? 0 : static_cast<int64_t>(s);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

bool retryable_status(long s) { return s == 408 || s == 429 || (s >= 500 && s <= 599); }

void back_off(const TransferOptions& o, int attempt, const HttpResponse* resp) {
  double s = o.backoff_s * static_cast<double>(1 << std::min(attempt, 4));
  if (resp) {
    if (auto ra = resp->header("Retry-After")) {
      const double r = std::atof(ra->c_str());
      if (r > s && r <= 60) s = r;
    }
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(s));
}

HttpResponse perform_with_retries(const TransferOptions& o, HttpRequest req) {
  req.connect_timeout_s = o.connect_timeout_s;
  req.stall_timeout_s = o.stall_timeout_s;
  for (int attempt = 0;; ++attempt) {
    try {
      HttpResponse r = http_perform(req);
      if (!retryable_status(r.status) || attempt >= o.max_retries) return r;
      back_off(o, attempt, &r);
    } catch (const TransportError& e) {
      if (!e.retryable() || attempt >= o.max_retries) throw;
      back_off(o, attempt);
    }
  }
}

FileLock::FileLock(const std::string& path) {
  fs::create_directories(fs::path(path).parent_path());
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error("cannot open the lock " + path + ": " + std::strerror(errno));
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno != EINTR) {
      ::close(fd_);
      throw Error("cannot lock " + path + ": " + std::strerror(errno));
    }
  }
}

FileLock::~FileLock() { ::close(fd_); }

int64_t bytes_present(const ResumableFile& f) {
  std::error_code ec;
  if (!f.replace && fs::exists(f.final_path, ec)) return f.size;
  const int64_t part = file_size_or_zero(f.part_path);
  return part <= f.size ? part : 0;
}

void download_resumable(const TransferOptions& opt, const ResumableFile& spec,
                        const std::function<void(int64_t)>& on_bytes) {
  const std::string& file = spec.name;
  const std::string& part = spec.part_path;
  const int64_t size = spec.size;
  if (size < 0) throw Error(file + ": no size announced; cannot check the download");
  std::error_code ec;
  if (!spec.replace && fs::exists(spec.final_path, ec)) return;
  fs::create_directories(fs::path(spec.final_path).parent_path());
  fs::create_directories(fs::path(part).parent_path());
  std::unique_ptr<FileLock> lock;
  if (!spec.lock_path.empty()) lock = std::make_unique<FileLock>(spec.lock_path);
  if (!spec.replace && fs::exists(spec.final_path, ec)) return;  // another process finished it while we waited

  int64_t have = file_size_or_zero(part);
  if (have > size) {  // not a prefix of this file: start over
    fs::resize_file(part, 0, ec);
    have = 0;
  }
  std::FILE* f = std::fopen(part.c_str(), "ab");
  if (!f) throw Error("cannot write " + part + ": " + std::strerror(errno));
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(f, std::fclose);
  auto report = [&](int64_t n) {
    if (on_bytes) on_bytes(n);
  };
  auto restart = [&] {
    std::fflush(f);
    if (::ftruncate(::fileno(f), 0) != 0) throw Error("cannot truncate " + part + ": " + std::strerror(errno));
    have = 0;
  };
  auto remove_part = [&] {
    closer.reset();
    fs::remove(part, ec);
  };

  std::string url = spec.url;
  HttpRequest req;
  req.headers = spec.headers;
  req.headers.emplace_back("Accept-Encoding", "identity");  // Content-Length must be the file's own size
  req.connect_timeout_s = opt.connect_timeout_s;
  req.stall_timeout_s = opt.stall_timeout_s;

  bool overflow = false, bad_range = false, write_failed = false;
  int failures = 0, hops = 0;
  try {
    while (have < size) {
      HttpRequest r = req;
      r.url = url;
      // Credentials go to the host that asked for them, never to a CDN a redirect names.
      if (!spec.credentials_for.empty() && same_authority(url, spec.credentials_for))
        for (const auto& h : spec.credentials) r.headers.push_back(h);
      if (have > 0) r.headers.emplace_back("Range", "bytes=" + std::to_string(have) + "-");
      const int64_t at_start = have;
      r.on_body_start = [&](long status, const HeaderMap& h) {
        if (status == 200 && have > 0) {
          // The server ignored the Range: take the whole file again.
          std::fflush(f);
          if (::ftruncate(::fileno(f), 0) != 0) {
            write_failed = true;
            return false;
          }
          have = 0;
        } else if (status == 206) {
          auto it = h.find("Content-Range");
          const std::string expect = "bytes " + std::to_string(have) + "-";
          if (it == h.end() || it->second.rfind(expect, 0) != 0) {
            bad_range = true;
            return false;
          }
        }
        return true;
      };
      r.on_body = [&](const char* data, size_t n) {
        if (have + static_cast<int64_t>(n) > size) {
          overflow = true;
          return false;
        }
        // No exception may cross libcurl's C frames: a flag, and stop.
        if (std::fwrite(data, 1, n, f) != n) {
          write_failed = true;
          return false;
        }
        have += static_cast<int64_t>(n);
        report(static_cast<int64_t>(n));
        return true;
      };
      HttpResponse resp;
      try {
        resp = http_perform(r);
      } catch (const TransportError& e) {
        std::fflush(f);
        if (write_failed) throw Error("cannot write " + part + " (disk full?)");
        if (overflow) {
          remove_part();
          throw Error(file + ": the server sent more than the " + std::to_string(size) + " bytes " + spec.source +
                      " announced; removed the partial download");
        }
        if (bad_range) {
          restart();
          if (++failures > opt.max_retries) throw Error(file + ": the server answers Range requests wrongly");
          continue;
        }
        if (!e.retryable()) throw Error(file + ": " + e.what());
        // Bytes arrived: the connection is worth resuming as often as it keeps moving.
        failures = have > at_start ? 0 : failures + 1;
        if (failures > opt.max_retries)
          throw Error(file + ": download failed after " + std::to_string(opt.max_retries + 1) + " tries: " + e.what() +
                      " (" + std::to_string(have) + " of " + std::to_string(size) +
                      " bytes kept; run again to resume)");
        back_off(opt, failures);
        continue;
      }
      std::fflush(f);
      if (resp.status >= 300 && resp.status < 400) {
        auto loc = resp.header("Location");
        if (!loc || ++hops > 10) throw Error(file + ": bad or too many redirects from " + url);
        url = resolve_location(url, *loc);
        continue;
      }
      if (resp.status == 416 && have > 0) {  // our prefix is longer than the server's file: start over
        restart();
        if (++failures > opt.max_retries) throw Error(file + ": the server refuses every Range request");
        continue;
      }
      if (retryable_status(resp.status)) {
        if (++failures > opt.max_retries)
          throw Error(file + ": HTTP " + std::to_string(resp.status) + " after " + std::to_string(failures) + " tries");
        back_off(opt, failures - 1, &resp);
        continue;
      }
      if (resp.status >= 400 && spec.raise_for_status) spec.raise_for_status(resp, file);
      if (resp.status < 200 || resp.status >= 300)
        throw Error(file + ": unexpected HTTP " + std::to_string(resp.status) + " from " + url);
      if (have < size) {  // a clean end of the body, short of the announced size
        const int64_t got = have;
        remove_part();
        throw Error(file + ": the server sent " + std::to_string(got) + " bytes but " + spec.source + " announced " +
                    std::to_string(size) + "; removed the partial download");
      }
    }
  } catch (...) {
    // A failure before any byte arrived leaves no empty file behind; bytes
    // that did arrive stay in the partial file for the next run to resume.
    if (closer) std::fflush(f);
    if (file_size_or_zero(part) == 0) remove_part();
    throw;
  }
  if (std::fflush(f) != 0) throw Error("cannot write " + part + " (disk full?)");
  closer.reset();

  const int64_t got = file_size_or_zero(part);
  if (got != size) {
    remove_part();
    throw Error(file + ": downloaded " + std::to_string(got) + " bytes, expected " + std::to_string(size));
  }
  std::string actual, expected, kind;
  if (!spec.sha256.empty()) {
    kind = "SHA-256";
    expected = lower(spec.sha256);
    actual = sha256_file(part);
  } else if (!spec.git_sha1.empty()) {
    kind = "git SHA-1";
    expected = lower(spec.git_sha1);
    actual = git_blob_sha1_file(part);
  }
  if (!kind.empty() && actual != expected) {
    remove_part();
    throw Error(file + ": " + kind + " mismatch: " + spec.source + " says " + expected + ", the download is " + actual +
                "; removed it (run again to download it anew)");
  }
  commit_temp_file(part, spec.final_path);
}

}  // namespace qsenti::hub
