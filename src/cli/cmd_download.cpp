// qsenti download: a model from the Hugging Face Hub (or a mirror) into the
// cache that transformers and huggingface_hub share, or from ModelScope into
// the cache of its SDK.
#include <iostream>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/model_source.h"
#include "hub/modelscope_download.h"
#include "hub/snapshot_download.h"
#include "util/error.h"

namespace qsenti::cli {

void add_download_command(CLI::App& app) {
  struct Opts {
    std::string repo, revision, local_dir, endpoint, cache_dir, source;
    std::vector<std::string> include;
    int workers = 4;
    bool quiet = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("download", "Download a model from the Hugging Face Hub or ModelScope into its shared cache");
  cmd->add_option("repo", o->repo, "repo id, e.g. Qwen/Qwen3-0.6B")->required();
  cmd->add_option("--source", o->source, "hf or modelscope (default $QSENTI_MODEL_SOURCE, else hf)");
  cmd->add_option("--revision", o->revision, "branch, tag or commit (default main on the Hub, master on ModelScope)");
  cmd->add_option("--include", o->include, "only files matching these globs (e.g. '*.json' '*.safetensors')");
  cmd->add_option("--local-dir", o->local_dir, "also place the files in this folder (hard links into the cache; ModelScope: the files go there instead of its cache)");
  cmd->add_option("--endpoint", o->endpoint,
                  "server address (default $HF_ENDPOINT, else https://huggingface.co; ModelScope: "
                  "$MODELSCOPE_ENDPOINT, else https://modelscope.cn)");
  cmd->add_option("--cache-dir", o->cache_dir,
                  "cache folder (default $HF_HUB_CACHE, else $HF_HOME/hub; ModelScope: $MODELSCOPE_CACHE, else "
                  "~/.cache/modelscope/hub)");
  cmd->add_option("--workers", o->workers, "files downloaded at once")->check(CLI::Range(1, 32))->capture_default_str();
  cmd->add_flag("--quiet", o->quiet, "no progress line");
  cmd->footer(
      "Prints the snapshot folder, which --model takes. The cache is the one transformers and\n"
      "huggingface_hub use (models--Org--Name/{blobs,snapshots,refs}), so each reuses the other's\n"
      "downloads. An interrupted download resumes where it stopped; every file's size and SHA-256\n"
      "(git SHA-1 for small files) is checked before it enters the cache.\n"
      "Environment: HF_ENDPOINT (a mirror), HF_TOKEN or $HF_HOME/token (gated repos), HF_HUB_OFFLINE=1\n"
      "(only the cache), HF_HUB_CACHE / HF_HOME, and the usual https_proxy.\n"
      "--source modelscope (or QSENTI_MODEL_SOURCE=modelscope): from ModelScope into the cache its SDK\n"
      "`modelscope` uses (models/<Owner>/<Name>, '.' in the name as ___), with the same resume and checks.\n"
      "Environment: MODELSCOPE_ENDPOINT (or MODELSCOPE_DOMAIN), MODELSCOPE_API_TOKEN (private models),\n"
      "MODELSCOPE_CACHE; HF_HUB_OFFLINE=1 keeps ModelScope to its cache too (its SDK has no such switch).");
  cmd->callback([o] {
    auto [source, repo] = split_model_source(o->repo);  // "modelscope:Org/Name" names its source
    if (!o->source.empty()) source = parse_model_source(o->source);
    o->repo = repo;
    const bool ms = source == ModelSource::kModelScope;
    if (o->revision.empty()) o->revision = ms ? hub::kModelScopeDefaultRevision : "main";
    hub::SnapshotRequest rq;
    rq.repo_id = o->repo;
    rq.revision = o->revision;
    rq.include = o->include;
    rq.local_dir = o->local_dir;
    rq.cache_dir = o->cache_dir;
    rq.workers = o->workers;
    rq.progress = !o->quiet;
    hub::SnapshotResult r;
    if (ms) {
      hub::ModelScopeOptions opt = hub::modelscope_options_from_env();
      if (!o->endpoint.empty()) opt.endpoint = o->endpoint;
      r = hub::modelscope_download(hub::ModelScopeClient(opt), rq);
    } else {
      hub::HubOptions opt = hub::hub_options_from_env();
      if (!o->endpoint.empty()) opt.endpoint = o->endpoint;
      r = hub::snapshot_download(hub::HubClient(opt), rq);
    }
    if (!o->quiet) {
      std::cerr << o->repo << "@" << o->revision;
      if (r.commit != o->revision) std::cerr << " = " << r.commit;
      std::cerr << (ms ? " (ModelScope)" : "") << ": " << r.files << " files";
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
