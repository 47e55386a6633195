#include "hub/hub_cache.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include "hub/digest.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace qsenti::hub {

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : "";
}

// "~/x" as the user's home: huggingface_hub expands it in these variables.
std::string expand_home(const std::string& p) {
  if (p.rfind("~/", 0) == 0 || p == "~") {
    const std::string home = env("HOME");
    return home + p.substr(1);
  }
  return p;
}

}  // namespace

std::string hf_home_dir() {
  if (auto v = env("HF_HOME"); !v.empty()) return expand_home(v);
  std::string xdg = env("XDG_CACHE_HOME");
  if (xdg.empty()) xdg = env("HOME") + "/.cache";
  return expand_home(xdg) + "/huggingface";
}

std::string default_cache_dir() {
  if (auto v = env("HF_HUB_CACHE"); !v.empty()) return expand_home(v);
  if (auto v = env("HUGGINGFACE_HUB_CACHE"); !v.empty()) return expand_home(v);
  return hf_home_dir() + "/hub";
}

bool is_commit_hash(const std::string& revision) {
  if (!is_hex(revision, 40)) return false;
  for (char c : revision)
    if (c >= 'A' && c <= 'F') return false;  // the Hub's commit ids are lower case
  return true;
}

void validate_repo_id(const std::string& repo_id) {
  const auto slash = repo_id.find('/');
  bool ok = slash != std::string::npos && slash > 0 && slash + 1 < repo_id.size() &&
            repo_id.find('/', slash + 1) == std::string::npos && repo_id.find("--") == std::string::npos &&
            repo_id.find("..") == std::string::npos && repo_id.size() <= 96;
  for (char c : repo_id)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '/')) ok = false;
  if (!ok)
    throw Error("'" + repo_id + "' is not a Hub repo id (expected Org/Name, e.g. Qwen/Qwen3-0.6B)", ExitCode::kUsage);
}

void validate_repo_path(const std::string& path) {
  bool ok = !path.empty() && path[0] != '/' && path.find('\\') == std::string::npos &&
            path.find('\0') == std::string::npos;
  std::stringstream ss(path);
  std::string part;
  while (ok && std::getline(ss, part, '/'))
    if (part.empty() || part == "." || part == "..") ok = false;
  if (!ok) throw InputError("the Hub listed an unsafe file path '" + path + "'");
}

HubCache::HubCache(std::string cache_dir, std::string repo_id)
    : cache_dir_(std::move(cache_dir)), repo_id_(std::move(repo_id)) {
  validate_repo_id(repo_id_);
}

std::string HubCache::storage_dir() const {
  std::string name = repo_id_;
  name.replace(name.find('/'), 1, "--");
  return cache_dir_ + "/models--" + name;
}

std::string HubCache::blob_path(const std::string& etag) const { return storage_dir() + "/blobs/" + etag; }
std::string HubCache::incomplete_path(const std::string& etag) const { return blob_path(etag) + ".incomplete"; }

std::string HubCache::lock_path(const std::string& etag) const {
  // huggingface_hub's place for the same lock, so the two never write one blob at once.
  const std::string storage = storage_dir();
  return cache_dir_ + "/.locks/" + storage.substr(storage.rfind('/') + 1) + "/" + etag + ".lock";
}

std::string HubCache::snapshot_dir(const std::string& commit) const { return storage_dir() + "/snapshots/" + commit; }

std::string HubCache::pointer_path(const std::string& commit, const std::string& file) const {
  return snapshot_dir(commit) + "/" + file;
}

std::optional<std::string> HubCache::read_ref(const std::string& revision) const {
  std::ifstream in(storage_dir() + "/refs/" + revision);
  if (!in) return std::nullopt;
  std::string commit;
  std::getline(in, commit);
  while (!commit.empty() && std::isspace(static_cast<unsigned char>(commit.back()))) commit.pop_back();
  if (commit.empty()) return std::nullopt;
  return commit;
}

void HubCache::write_ref(const std::string& revision, const std::string& commit) const {
  if (revision == commit) return;
  const std::string path = storage_dir() + "/refs/" + revision;  // a branch "a/b" is a subfolder, as in git
  if (read_ref(revision) == commit) return;  // a read-only cache that is up to date stays untouched
  fs::create_directories(fs::path(path).parent_path());
  write_text_atomically(path, commit);  // no newline: huggingface_hub reads the whole file as the hash
}

void HubCache::link_blob(const std::string& commit, const std::string& file, const std::string& etag) const {
  validate_repo_path(file);
  const std::string dst = pointer_path(commit, file);
  fs::create_directories(fs::path(dst).parent_path());
  // snapshots/<commit>/<a/b/f> -> ../../../../blobs/<etag>: up from the file's folder to the storage folder.
  std::string target = "../../";
  for (char c : file)
    if (c == '/') target += "../";
  target += "blobs/" + etag;
  std::error_code ec;
  if (fs::is_symlink(dst, ec) && fs::read_symlink(dst, ec).string() == target) return;
  // A link made beside it and renamed over: readers never see the file missing.
  const std::string tmp = dst + ".link." + std::to_string(::getpid());
  fs::remove(tmp, ec);
  if (::symlink(target.c_str(), tmp.c_str()) != 0)
    throw Error("cannot create the link " + tmp + ": " + std::strerror(errno));
  if (std::rename(tmp.c_str(), dst.c_str()) != 0) {
    const std::string err = std::strerror(errno);
    fs::remove(tmp, ec);
    throw Error("cannot create " + dst + ": " + err);
  }
}

std::optional<std::string> HubCache::resolve_revision(const std::string& revision) const {
  if (is_commit_hash(revision)) return revision;
  return read_ref(revision);
}

std::optional<std::string> HubCache::find_snapshot(const std::string& revision,
                                                   const std::vector<std::string>& required) const {
  const auto commit = resolve_revision(revision);
  if (!commit) return std::nullopt;
  const std::string dir = snapshot_dir(*commit);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return std::nullopt;
  for (const auto& f : required)
    if (!fs::exists(dir + "/" + f, ec)) return std::nullopt;  // follows the link: the blob must be there
  return dir;
}

}  // namespace qsenti::hub
