// What qsenti reads from a Hugging Face Hub's answers (src/hub): the file
// listing JSON of /api/models/{repo}/revision/{rev} (parse_repo_info), and the
// header lines of a HEAD answer (add_header_line, file_metadata_from_response,
// with the Location resolved against the request URL).
// The first input byte picks which; the rest is the body or the header block.
// Expected for bad input: qsenti::Error (InputError for unsafe paths).
#include <cstdio>
#include <cstdlib>

#include "fuzz_common.h"
#include "hub/hub_cache.h"
#include "hub/hub_client.h"
#include "hub/http.h"
#include "util/error.h"

namespace hub = qsenti::hub;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::string url = "https://huggingface.co/Org/Name/resolve/main/model.safetensors";
  try {
    if (data[0] & 1) {
      const hub::RepoInfo info = hub::parse_repo_info(body, "https://huggingface.co/api/models/Org/Name/revision/main");
      FUZZ_CHECK(hub::is_commit_hash(info.commit));
      // Every listed file is safe to place under a snapshot folder.
      const hub::HubCache cache("/nonexistent-cache", "Org/Name");
      for (const auto& f : info.files) (void)cache.pointer_path(info.commit, f);
    } else {
      hub::HttpResponse r;
      size_t begin = 0;
      while (begin < body.size()) {
        size_t end = body.find('\n', begin);
        end = end == std::string::npos ? body.size() : end + 1;  // curl's lines keep their CRLF
        hub::add_header_line(r, body.substr(begin, end - begin));
        begin = end;
      }
      const hub::FileMetadata m = hub::file_metadata_from_response(r, url, "Org/Name/model.safetensors",
                                                                   "https://huggingface.co");
      FUZZ_CHECK(!m.etag.empty() && m.etag.find('/') == std::string::npos);
      (void)hub::same_authority(url, m.location);
      (void)hub::split_url(m.location);
    }
  } catch (const qsenti::Error&) {
  }
  return 0;
}
