#pragma once
// Request bodies of the HTTP routes, parsed and checked: anything malformed
// becomes an ApiError (422 Validation, 400 Empty, 413 too many inputs) that
// names the field and the problem, before any work is queued.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace qsenti::serve {

// The body as JSON; 422 naming the position for bad JSON or invalid UTF-8.
nlohmann::json parse_body(const std::string& body);

struct TextsRequest {
  std::vector<std::string> texts;
  bool batch = false;            // answer a list per input (inputs was a list)
  std::string model;             // "" = the first run
  bool raw_scores = false;       // /predict
  std::optional<bool> truncate;  // unset = the server's --auto-truncate
  bool truncate_left = false;    // truncation_direction "Left"
  bool add_special_tokens = true;  // /tokenize
  bool base64 = false;           // /v1/embeddings encoding_format "base64"
  int64_t top_k = 0;             // POST / text classification: 0 = every label
};

// POST /predict (TEI): inputs "a" | ["a"] | [["a"], ["b"]]; raw_scores,
// truncate, truncation_direction. Text pairs are refused (422).
TextsRequest parse_predict(const nlohmann::json& body, int64_t max_client_batch_size);
// POST / in the Hugging Face Inference API's text-classification shape
// (huggingface_hub's InferenceClient.text_classification): inputs "a" |
// ["a", "b"]; parameters.top_k, parameters.function_to_apply "softmax"
// (probabilities) | "none" (raw scores). "sigmoid" is refused: the classifiers
// give probabilities, and a sigmoid of those is not the model's.
TextsRequest parse_hf_text_classification(const nlohmann::json& body, int64_t max_client_batch_size);
// POST /classify (vLLM): input "a" | ["a", "b"]; model.
TextsRequest parse_classify(const nlohmann::json& body, int64_t max_client_batch_size);
// POST /tokenize (TEI): inputs "a" | ["a", "b"]; add_special_tokens.
TextsRequest parse_tokenize(const nlohmann::json& body, int64_t max_client_batch_size);

// POST /embed (TEI): inputs "a" | ["a", "b"]; normalize (only true: the
// vectors are L2-normalised as Qwen3-Embedding defines them), truncate.
TextsRequest parse_embed(const nlohmann::json& body, int64_t max_client_batch_size);
// POST /v1/embeddings (OpenAI): input "a" | ["a", "b"]; model,
// encoding_format float | base64. Token-id inputs and `dimensions` are refused.
TextsRequest parse_openai_embeddings(const nlohmann::json& body, int64_t max_client_batch_size);

struct DecodeRequest {
  std::vector<std::vector<int32_t>> ids;
  bool batch = false;
  bool skip_special_tokens = true;
  std::string model;
};
// POST /decode (TEI): ids [1, 2] | [[1, 2], [3]]; skip_special_tokens.
DecodeRequest parse_decode(const nlohmann::json& body, int64_t max_client_batch_size);

}  // namespace qsenti::serve
