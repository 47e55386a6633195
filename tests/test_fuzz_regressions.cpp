// Inputs the fuzz targets (fuzz/) crashed on, or that sat beside such a
// crash, fed to the same parser: each must now end in a clean InputError.
// The inputs are built here byte by byte (smaller than the fuzzer's files
// and readable); the crashing files themselves are also in fuzz/corpus/,
// which scripts/fuzz.sh --replay runs.
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include "export/gguf_reader.h"
#include "io/dataset.h"
#include "model/config.h"
#include "model/peft_adapter.h"
#include "train/train_options.h"
#include "test_util.h"
#include "util/error.h"

namespace {

using qsenti::test::TempDir;

// A little-endian GGUF v3 header, built field by field.
struct GgufBytes {
  std::string b;
  template <typename T>
  GgufBytes& put(T v) {
    b.append(reinterpret_cast<const char*>(&v), sizeof v);
    return *this;
  }
  GgufBytes& str(const std::string& s) {
    put<uint64_t>(s.size());
    b += s;
    return *this;
  }
  GgufBytes& head(uint64_t n_tensors, uint64_t n_kv) {
    return put<uint32_t>(0x46554747).put<uint32_t>(3).put<uint64_t>(n_tensors).put<uint64_t>(n_kv);
  }
  // A tensor-table entry: name, dims (GGUF order: innermost first), type, offset.
  GgufBytes& tensor(const std::string& name, std::vector<uint64_t> dims, uint32_t type, uint64_t offset) {
    str(name).put<uint32_t>(static_cast<uint32_t>(dims.size()));
    for (uint64_t d : dims) put<uint64_t>(d);
    return put<uint32_t>(type).put<uint64_t>(offset);
  }
  GgufBytes& pad(size_t n) {
    b.append(n, '\0');
    return *this;
  }
};

void expect_input_error(const std::string& bytes, const std::string& problem) {
  TempDir dir;
  const std::string path = dir / "x.gguf";
  std::ofstream(path, std::ios::binary) << bytes;
  try {
    qsenti::GgufFile f(path);
    for (const auto& t : f.tensors()) f.tensor(t.name);
    ADD_FAILURE() << "no error; expected one about " << problem;
  } catch (const qsenti::InputError& e) {
    EXPECT_NE(std::string(e.what()).find(problem), std::string::npos) << e.what();
  }
}

constexpr uint32_t kU32 = 4, kString = 8;

// fuzz_gguf: dims whose product overflowed int64 (UBSan: signed overflow in
// the end-of-file check), and a zero dim that hid the overflow of the rest.
TEST(FuzzRegressions, GgufShapeWhoseElementCountOverflows) {
  expect_input_error(GgufBytes().head(1, 0).tensor("w", {1ull << 40, 1ull << 40}, 0, 0).pad(64).b,
                     "implausible shape");
  expect_input_error(GgufBytes().head(1, 0).tensor("w", {0, 1ull << 40, 1ull << 40}, 0, 0).pad(64).b,
                     "implausible shape");
}

// general.alignment 0 divided the tensor offsets (SIGFPE); a string one
// threw nlohmann's type_error.
TEST(FuzzRegressions, GgufAlignmentZeroOrNotAnInteger) {
  expect_input_error(GgufBytes().head(1, 1).str("general.alignment").put<uint32_t>(kU32).put<uint32_t>(0)
                         .tensor("w", {1}, 0, 0).pad(64).b,
                     "general.alignment");
  expect_input_error(GgufBytes().head(0, 1).str("general.alignment").put<uint32_t>(kString).str("32").b,
                     "general.alignment");
}

// A string length of 1 GiB in a 40-byte file was allocated before the read failed.
TEST(FuzzRegressions, GgufStringLongerThanTheFile) {
  expect_input_error(GgufBytes().head(0, 1).put<uint64_t>(1ull << 30).b, "implausible string length");
  expect_input_error(GgufBytes().head(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(0).put<uint64_t>(1ull << 31).b,
                     "implausible array length");
}

// An offset near 2^64 wrapped the end-of-file check; a Q8_0 tensor whose
// size is not whole blocks made tensor() throw c10::Error from reshape.
TEST(FuzzRegressions, GgufOffsetsThatWrapAndPartialQ8Blocks) {
  expect_input_error(GgufBytes().head(1, 0).tensor("w", {8}, 0, ~uint64_t{31}).pad(64).b, "runs past the end");
  expect_input_error(GgufBytes().head(1, 0).tensor("w", {33}, 8, 0).pad(128).b, "multiple of 32");
}

// fuzz_config: a size given as a float beyond int64 ("hidden_size": 1.6e62)
// went through a plain float-to-int cast (UBSan float-cast-overflow); sizes
// whose products overflow int64 reached parameter_count; a huge num_labels
// made to_json write that many labels.
TEST(FuzzRegressions, ConfigSizesThatAreNotInt64s) {
  const auto expect_error = [](const nlohmann::json& fields, const std::string& problem) {
    nlohmann::json j = {{"model_type", "qwen3"}, {"hidden_size", 64}, {"num_attention_heads", 2},
                        {"num_key_value_heads", 1}, {"head_dim", 32}};
    j.update(fields);
    try {
      qsenti::Qwen3Config::from_json(j, "config.json");
      ADD_FAILURE() << fields.dump() << ": no error";
    } catch (const qsenti::InputError& e) {
      EXPECT_NE(std::string(e.what()).find(problem), std::string::npos) << e.what();
    }
  };
  expect_error({{"hidden_size", 1.61111e+62}}, "\"hidden_size\" is not an integer");
  expect_error({{"vocab_size", 2.5}}, "\"vocab_size\" is not an integer");
  expect_error({{"hidden_size", int64_t{1} << 40}, {"vocab_size", int64_t{1} << 40}}, "implausibly large");
  expect_error({{"num_labels", int64_t{1} << 40}}, "num_labels");
  expect_error({{"num_labels", 0}}, "num_labels");
  // A whole number written as a float is still a size.
  EXPECT_EQ(qsenti::Qwen3Config::from_json({{"model_type", "qwen3"}, {"hidden_size", 64.0}, {"num_attention_heads", 2},
                                            {"head_dim", 32}}, "config.json").hidden_size, 64);
}

// fuzz_dataset: a JSON line with a number beyond double ("[9E9999999999")
// threw nlohmann's out_of_range past the reader instead of a bad row.
TEST(FuzzRegressions, JsonlNumberOutOfRangeIsABadRow) {
  std::istringstream in("{\"text\": \"ok\", \"label\": \"1\"}\n{\"text\": \"x\", \"label\": 9E9999999999}\n");
  qsenti::RowReader reader(in, "data.jsonl", qsenti::DataFormat::kJsonl);
  qsenti::Row row;
  ASSERT_TRUE(reader.next(row));
  try {
    reader.next(row);
    ADD_FAILURE() << "no error";
  } catch (const qsenti::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("data.jsonl:2: invalid JSON"), std::string::npos) << e.what();
  }
  std::istringstream again("{\"text\": \"x\", \"label\": 9E9999999999}\n{\"text\": \"ok\"}\n");
  qsenti::RowReader skipping(again, "data.jsonl", qsenti::DataFormat::kJsonl, /*skip_bad_rows=*/true);
  ASSERT_TRUE(skipping.next(row));
  EXPECT_EQ(row.text, "ok");
  EXPECT_EQ(skipping.bad_rows().size(), 1u);
}

}  // namespace

// fuzz_run_files: an integer field written as a huge float ("epochs": 1e300
// in train_options.json, "r": 1e300 in adapter_config.json) went through
// nlohmann's get<int64_t>, a float-to-int cast (UBSan float-cast-overflow,
// once switched off for these files in fuzz/CMakeLists.txt): now refused.
TEST(FuzzRegressions, WholeNumberFieldsGivenAsHugeFloats) {
  const nlohmann::json base = {{"method", "classifier"}, {"model", "m"}, {"train", "t.tsv"}};
  for (const auto& [key, value] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"epochs", 1e300}, {"batch_size", -1e300}, {"lora_r", 2.5}, {"seed", "7"}}) {
    nlohmann::json j = base;
    j[key] = value;
    try {
      qsenti::train_options_from_json(j, "run/train_options.json");
      ADD_FAILURE() << key << ": no error";
    } catch (const qsenti::InputError& e) {
      EXPECT_NE(std::string(e.what()).find("run/train_options.json"), std::string::npos) << e.what();
    }
  }
  nlohmann::json ok = base;
  ok["epochs"] = 3.0;  // a whole number written as a float is still one
  EXPECT_EQ(qsenti::train_options_from_json(ok, "x").epochs, 3);

  TempDir tmp;
  std::ofstream(tmp / "adapter_config.json")
      << R"({"peft_type": "LORA", "r": 1e300, "lora_alpha": 16, "target_modules": ["q_proj"]})";
  try {
    qsenti::AdapterConfig::load(tmp.path());
    ADD_FAILURE() << "no error";
  } catch (const qsenti::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'r' must be a whole number"), std::string::npos) << e.what();
  }
}
