#include "serve/request_parse.h"

#include <cstdint>

#include "serve/api_error.h"

namespace qsenti::serve {

using nlohmann::json;

json parse_body(const std::string& body) {
  if (body.empty()) throw ApiError::validation("the request body is empty; send a JSON object");
  try {
    json j = json::parse(body);  // also refuses strings that are not valid UTF-8
    if (!j.is_object()) throw ApiError::validation("the request body must be a JSON object, got " + std::string(j.type_name()));
    return j;
  } catch (const json::parse_error& e) {
    throw ApiError::validation("bad JSON at byte " + std::to_string(e.byte) + ": " + e.what());
  } catch (const json::exception& e) {
    // A number beyond a double ([1e999], found by fuzz_serve_request) is the
    // client's error too, not the backend's.
    throw ApiError::validation(std::string("bad JSON: ") + e.what());
  }
}

namespace {

bool get_bool(const json& body, const char* key, bool fallback) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) throw ApiError::validation(std::string("`") + key + "` must be true or false");
  return it->get<bool>();
}

std::string get_model(const json& body) {
  auto it = body.find("model");
  if (it == body.end() || it->is_null()) return "";
  if (!it->is_string()) throw ApiError::validation("`model` must be a string naming a run (GET /v1/models)");
  return it->get<std::string>();
}

const json& required(const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) throw ApiError::validation(std::string("missing field `") + key + "`");
  return *it;
}

void check_count(size_t n, int64_t max_client_batch_size, const char* field) {
  if (n == 0) throw ApiError::empty(std::string("`") + field + "` cannot be empty");
  if (max_client_batch_size > 0 && static_cast<int64_t>(n) > max_client_batch_size)
    throw ApiError::too_large("batch size " + std::to_string(n) + " > maximum allowed batch size " +
                              std::to_string(max_client_batch_size));
}

// A flat "a" | ["a", "b"] field.
void read_flat(const json& v, const char* field, int64_t max_batch, TextsRequest& r) {
  if (v.is_string()) {
    r.texts.push_back(v.get<std::string>());
    return;
  }
  if (!v.is_array())
    throw ApiError::validation(std::string("`") + field + "` must be a string or a list of strings, got " + v.type_name());
  check_count(v.size(), max_batch, field);
  r.batch = true;
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string())
      throw ApiError::validation(std::string("`") + field + "[" + std::to_string(i) + "]` must be a string, got " +
                                 v[i].type_name());
    r.texts.push_back(v[i].get<std::string>());
  }
}

}  // namespace

TextsRequest parse_predict(const json& body, int64_t max_batch) {
  // Unknown fields are ignored, as TEI does (clients send extras).
  TextsRequest r;
  r.model = get_model(body);
  r.raw_scores = get_bool(body, "raw_scores", false);
  if (body.contains("truncate") && !body["truncate"].is_null()) r.truncate = get_bool(body, "truncate", false);
  if (auto it = body.find("truncation_direction"); it != body.end() && !it->is_null()) {
    const std::string d = it->is_string() ? it->get<std::string>() : "";
    if (d == "Left" || d == "left") r.truncate_left = true;
    else if (d != "Right" && d != "right")
      throw ApiError::validation("`truncation_direction` must be \"Left\" or \"Right\"");
  }
  const json& in = required(body, "inputs");
  // TEI's shapes: a text, a one-text sequence ["a"], or a batch of them [["a"], ["b"]].
  auto sequence = [&](const json& s, const std::string& where) -> std::string {
    if (s.is_string()) return s.get<std::string>();
    if (s.is_array() && s.size() == 1 && s[0].is_string()) return s[0].get<std::string>();
    if (s.is_array() && s.size() == 2 && s[0].is_string() && s[1].is_string())
      throw ApiError::validation(where + " is a text pair; these classifiers take single texts");
    throw ApiError::validation(where + " must be a string or [string], got " + std::string(s.type_name()));
  };
  if (in.is_string()) {
    r.texts.push_back(in.get<std::string>());
  } else if (in.is_array() && !in.empty() && in[0].is_array()) {
    check_count(in.size(), max_batch, "inputs");
    r.batch = true;
    for (size_t i = 0; i < in.size(); ++i) r.texts.push_back(sequence(in[i], "`inputs[" + std::to_string(i) + "]`"));
  } else if (in.is_array()) {
    if (in.empty()) throw ApiError::empty("`inputs` cannot be empty");
    r.texts.push_back(sequence(in, "`inputs`"));
  } else {
    throw ApiError::validation("`inputs` must be a string or a list, got " + std::string(in.type_name()));
  }
  return r;
}

TextsRequest parse_hf_text_classification(const json& body, int64_t max_batch) {
  TextsRequest r;
  r.model = get_model(body);
  read_flat(required(body, "inputs"), "inputs", max_batch, r);
  const json& params = body.contains("parameters") && !body["parameters"].is_null() ? body["parameters"] : json::object();
  if (!params.is_object()) throw ApiError::validation("`parameters` must be an object");
  if (auto it = params.find("top_k"); it != params.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1)
      throw ApiError::validation("`parameters.top_k` must be a whole number of at least 1");
    r.top_k = it->get<int64_t>();
  }
  if (auto it = params.find("function_to_apply"); it != params.end() && !it->is_null()) {
    const std::string f = it->is_string() ? it->get<std::string>() : "";
    if (f == "none") r.raw_scores = true;
    else if (f != "softmax")
      throw ApiError::validation("`parameters.function_to_apply` must be \"softmax\" or \"none\" (the classifiers give "
                                 "probabilities; a sigmoid of them is not the model's)");
  }
  return r;
}

TextsRequest parse_classify(const json& body, int64_t max_batch) {
  TextsRequest r;
  r.model = get_model(body);
  read_flat(required(body, "input"), "input", max_batch, r);
  r.batch = true;  // vLLM always answers a list
  if (body.contains("truncate_prompt_tokens") && !body["truncate_prompt_tokens"].is_null()) r.truncate = true;
  return r;
}

TextsRequest parse_tokenize(const json& body, int64_t max_batch) {
  TextsRequest r;
  r.model = get_model(body);
  r.add_special_tokens = get_bool(body, "add_special_tokens", true);
  read_flat(required(body, "inputs"), "inputs", max_batch, r);
  r.batch = true;  // TEI answers a list of token lists either way
  return r;
}

TextsRequest parse_embed(const json& body, int64_t max_batch) {
  TextsRequest r;
  r.model = get_model(body);
  if (!get_bool(body, "normalize", true))
    throw ApiError::validation("`normalize`: false is not offered; the vectors are L2-normalised, as "
                               "Qwen3-Embedding's last-token pooling defines them");
  if (body.contains("truncate") && !body["truncate"].is_null()) r.truncate = get_bool(body, "truncate", false);
  read_flat(required(body, "inputs"), "inputs", max_batch, r);
  r.batch = true;  // TEI answers a list of vectors either way
  return r;
}

TextsRequest parse_openai_embeddings(const json& body, int64_t max_batch) {
  TextsRequest r;
  r.model = get_model(body);
  const json& in = required(body, "input");
  if (in.is_array() && !in.empty() && (in[0].is_number_integer() || in[0].is_array()))
    throw ApiError::validation("`input` as token ids is not accepted; send text");
  read_flat(in, "input", max_batch, r);
  r.batch = true;
  if (auto it = body.find("encoding_format"); it != body.end() && !it->is_null()) {
    const std::string f = it->is_string() ? it->get<std::string>() : "";
    if (f == "base64") r.base64 = true;
    else if (f != "float") throw ApiError::validation("`encoding_format` must be \"float\" or \"base64\"");
  }
  if (auto it = body.find("dimensions"); it != body.end() && !it->is_null())
    throw ApiError::validation("`dimensions` is not offered: the vectors keep the model's own size");
  return r;
}

DecodeRequest parse_decode(const json& body, int64_t max_batch) {
  DecodeRequest r;
  r.model = get_model(body);
  r.skip_special_tokens = get_bool(body, "skip_special_tokens", true);
  const json& ids = required(body, "ids");
  if (!ids.is_array()) throw ApiError::validation("`ids` must be a list of token ids or a list of such lists");
  auto read = [&](const json& list, const std::string& where) {
    std::vector<int32_t> out;
    for (size_t i = 0; i < list.size(); ++i) {
      if (!list[i].is_number_integer() || list[i].get<int64_t>() < 0 || list[i].get<int64_t>() > INT32_MAX)
        throw ApiError::validation(where + "[" + std::to_string(i) + "] must be a token id (a non-negative integer)");
      out.push_back(static_cast<int32_t>(list[i].get<int64_t>()));
    }
    return out;
  };
  if (!ids.empty() && ids[0].is_array()) {
    check_count(ids.size(), max_batch, "ids");
    r.batch = true;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (!ids[i].is_array()) throw ApiError::validation("`ids[" + std::to_string(i) + "]` must be a list of token ids");
      r.ids.push_back(read(ids[i], "`ids[" + std::to_string(i) + "]`"));
    }
  } else {
    if (ids.empty()) throw ApiError::empty("`ids` cannot be empty");
    r.ids.push_back(read(ids, "`ids`"));
  }
  return r;
}

}  // namespace qsenti::serve
