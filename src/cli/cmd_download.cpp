// qsenti download: a model from the Hugging Face Hub (or a mirror) into the
// cache that transformers and huggingface_hub share.
#include <iostream>

#include "cli/commands.h"
#include "cli/common.h"
#include "hub/snapshot_download.h"
#include "util/error.h"

namespace qsenti::cli {

void add_download_command(CLI::App& app) {
  struct Opts {
    std::string repo, revision = "main", local_dir, endpoint, cache_dir;
    std::vector<std::string> include;
    int workers = 4;
    bool quiet = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("download", "Download a model from the Hugging Face Hub into its shared cache");
  cmd->add_option("repo", o->repo, "repo id, e.g. Qwen/Qwen3-0.6B")->required();
  cmd->add_option("--revision", o->revision, "branch, tag or commit")->capture_default_str();
  cmd->add_option("--include", o->include, "only files matching these globs (e.g. '*.json' '*.safetensors')");
  cmd->add_option("--local-dir", o->local_dir, "also place the files in this folder (hard links into the cache)");
  cmd->add_option("--endpoint", o->endpoint, "Hub address (default $HF_ENDPOINT, else https://huggingface.co)");
  cmd->add_option("--cache-dir", o->cache_dir, "cache folder (default $HF_HUB_CACHE, else $HF_HOME/hub)");
  cmd->add_option("--workers", o->workers, "files downloaded at once")->check(CLI::Range(1, 32))->capture_default_str();
  cmd->add_flag("--quiet", o->quiet, "no progress line");
  cmd->footer(
      "Prints the snapshot folder, which --model takes. The cache is the one transformers and\n"
      "huggingface_hub use (models--Org--Name/{blobs,snapshots,refs}), so each reuses the other's\n"
      "downloads. An interrupted download resumes where it stopped; every file's size and SHA-256\n"
      "(git SHA-1 for small files) is checked before it enters the cache.\n"
      "Environment: HF_ENDPOINT (a mirror), HF_TOKEN or $HF_HOME/token (gated repos), HF_HUB_OFFLINE=1\n"
      "(only the cache), HF_HUB_CACHE / HF_HOME, and the usual https_proxy.");
  cmd->callback([o] {
    hub::HubOptions opt = hub::hub_options_from_env();
    if (!o->endpoint.empty()) opt.endpoint = o->endpoint;
    const hub::HubClient client(opt);
    hub::SnapshotRequest rq;
    rq.repo_id = o->repo;
    rq.revision = o->revision;
    rq.include = o->include;
    rq.local_dir = o->local_dir;
    rq.cache_dir = o->cache_dir;
    rq.workers = o->workers;
    rq.progress = !o->quiet;
    const hub::SnapshotResult r = hub::snapshot_download(client, rq);
    if (!o->quiet) {
      std::cerr << o->repo << "@" << o->revision << " = " << r.commit << ": " << r.files << " files";
      if (r.offline)
        std::cerr << ", from the cache (offline)";
      else
        std::cerr << ", " << r.downloaded_files << " downloaded (" << human_bytes(static_cast<uint64_t>(r.downloaded_bytes))
                  << ")";
      std::cerr << "\n";
    }
    std::cout << r.path << "\n";
  });
}

}  // namespace qsenti::cli
