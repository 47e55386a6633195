#pragma once
// What every model host's downloads share, whatever its protocol (the Hugging
// Face Hub, ModelScope): requests retried on transient failures with
// exponential backoff, and one file fetched into <final>.incomplete (or any
// partial path), resumed with Range after a dropped connection or a killed
// process, its size and digest checked, then renamed into place. A file that
// fails a check never reaches its final path.
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "hub/http.h"

namespace qsenti::hub {

struct TransferOptions {
  int max_retries = 5;     // per request, after the first try
  double backoff_s = 1.0;  // the first wait; doubled each time, at most 16x
  double connect_timeout_s = 10;
  double stall_timeout_s = 30;
};

bool retryable_status(long status);  // 408, 429, 5xx

// The wait before retry `attempt` (0-based); a Retry-After of up to a minute is honoured.
void back_off(const TransferOptions& o, int attempt, const HttpResponse* resp = nullptr);

// One request, retried on 5xx, 408, 429 and dropped or refused connections.
// Returns the last answer; throws TransportError when the tries are used up
// without one.
HttpResponse perform_with_retries(const TransferOptions& o, HttpRequest req);

// An exclusive flock on a file, held while the object lives (the kind
// huggingface_hub's and modelscope's filelock take on Linux).
class FileLock {
 public:
  explicit FileLock(const std::string& path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

struct ResumableFile {
  std::string name;        // the file in the repo, for messages
  std::string url;
  std::string part_path;   // where the bytes gather (resumed from what it holds)
  std::string final_path;  // where the verified file is renamed to
  std::string lock_path;   // empty: no lock
  int64_t size = -1;       // announced size; required
  std::string sha256;      // expected lower-case hex, or empty
  std::string git_sha1;    // expected git blob id, or empty
  bool replace = false;     // final_path is stale: fetch anew and rename over it
  std::string source = "the server";  // who announced size and digest, in messages ("the Hub")
  // Sent on every request; credentials only while the URL is on `credentials_for`'s host.
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::pair<std::string, std::string>> credentials;
  std::string credentials_for;
  // Turns a refusing status (4xx other than 416) into the host's own error; it must throw.
  std::function<void(const HttpResponse&, const std::string& what)> raise_for_status;
};

// Bytes of `f` already on disk: its size for a finished file (unless
// f.replace), else what a resumable partial file holds.
int64_t bytes_present(const ResumableFile& f);

// Fetches `f` (nothing to do when final_path exists, unless f.replace). on_bytes(n) reports each
// chunk received; bytes kept from an earlier run are not reported. Throws
// qsenti::Error with the reason; bytes that arrived stay in part_path for the
// next run unless they are known to be wrong.
void download_resumable(const TransferOptions& o, const ResumableFile& f,
                        const std::function<void(int64_t)>& on_bytes = {});

}  // namespace qsenti::hub
