#pragma once
// Hugging Face folders that predict/eval (and serve) open as runs, without a
// qsenti manifest.json:
//  - a transformers Qwen3ForSequenceClassification folder (config.json +
//    safetensors): method C, full weights; labels from id2label;
//  - a peft LoRA adapter folder (adapter_config.json) of task SEQ_CLS:
//    method C with LoRA, the score head from modules_to_save;
//  - a peft adapter of task CAUSAL_LM: method B with qsenti's default prompt
//    and label words (负面/正面), or those given with --label-words.
// The base model of an adapter is base_model_name_or_path when that is a
// local folder (absolute, or relative to the adapter folder or the working
// folder), else the folder given with --base.
#include <string>

#include "methods/run_manifest.h"

namespace qsenti {

// True when `dir` has no manifest.json but is one of the folders above.
bool is_hf_run_folder(const std::string& dir);

// The manifest qsenti would have written for it (extra.source = "transformers"
// or "peft"; extra.model_dir / extra.adapter_dir name the folders). InputError
// naming the file when the folder is not one qsenti can open.
RunManifest manifest_for_hf_folder(const std::string& dir);

// What every opener of runs asks: a qsenti run or one of the folders above.
bool is_run_folder(const std::string& dir);
// Its manifest.json, or the one made for a Hugging Face folder.
RunManifest open_run_manifest(const std::string& dir);

}  // namespace qsenti
