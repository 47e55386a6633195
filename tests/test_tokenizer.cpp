// The Qwen3 tokenizer against ids recorded from Hugging Face's `tokenizers`.
#include <gtest/gtest.h>

#include "test_util.h"
#include <unistd.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "text/batch.h"
#include "text/bpe.h"
#include "text/byte_level.h"
#include "text/pretokenizer.h"
#include "text/tokenizer.h"
#include "text/unicode.h"
#include "text/utf8.h"
#include "util/error.h"

namespace {

using qsenti::SpecialTokens;
using qsenti::Tokenizer;
using json = nlohmann::json;
namespace fs = std::filesystem;

// Loaded once for the whole file (about a quarter of a second).
const Tokenizer& tok() {
  static const auto t = Tokenizer::from_file(Tokenizer::default_path());
  return *t;
}

std::vector<json> read_jsonl(const std::string& name) {
  const std::string path = std::string(qsenti::test::fixtures_dir()) + "/tokenizer/" + name;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::vector<json> rows;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) rows.push_back(json::parse(line));
  return rows;
}

std::vector<int32_t> ids_of(const json& row) { return row.at("ids").get<std::vector<int32_t>>(); }

bool has_added_token(const std::string& text) {
  for (const char* t : {"<|", "<think>", "</think>", "<tool_call>", "</tool_call>"})
    if (text.find(t) != std::string::npos) return true;
  return false;
}

// A scratch directory removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/qsenti-tok-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string write(const std::string& name, const std::string& content) const {
    const fs::path p = path / name;
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }
};

std::string ids_line(const std::vector<int32_t>& ids) {
  std::string s;
  for (size_t k = 0; k < ids.size(); ++k) s += (k ? " " : "") + std::to_string(ids[k]);
  return s + "\n";
}

// ---------------------------------------------------------------------------

TEST(Tokenizer, KnownIdsAndSizes) {
  EXPECT_EQ(tok().vocab_size(), 151669);
  EXPECT_EQ(tok().endoftext_id(), 151643);
  EXPECT_EQ(tok().im_start_id(), 151644);
  EXPECT_EQ(tok().im_end_id(), 151645);
  EXPECT_EQ(tok().token_to_id("Ġworld"), 1879);
  EXPECT_EQ(tok().token_to_id("<think>"), 151667);
  EXPECT_EQ(tok().token_to_id("no such token at all"), -1);
  EXPECT_EQ(tok().id_to_token(9707), "Hello");
  EXPECT_EQ(tok().id_to_token(151645), "<|im_end|>");
  EXPECT_EQ(tok().id_to_token(151669), "");
  EXPECT_EQ(tok().id_to_token(-1), "");
  EXPECT_TRUE(tok().is_special(151645));
  EXPECT_FALSE(tok().is_special(151667));  // <think> is added but not special
  EXPECT_FALSE(tok().is_special(9707));
}

TEST(Tokenizer, EdgeCaseVectors) {
  const auto rows = read_jsonl("edge_cases.jsonl");
  ASSERT_EQ(rows.size(), 81u);
  int with_pretokens = 0, parsed = 0;
  for (const auto& row : rows) {
    const std::string name = row.at("name");
    const std::string text = row.at("text");
    SCOPED_TRACE(name);
    const bool special = has_added_token(text);
    const auto ids = tok().encode(text, special ? SpecialTokens::kParse : SpecialTokens::kAsText);
    EXPECT_EQ(ids, ids_of(row));
    if (special) {
      ++parsed;
    } else {
      // Without literal added tokens, both modes agree.
      EXPECT_EQ(tok().encode(text, SpecialTokens::kParse), ids_of(row));
    }
    const auto tokens = row.at("tokens").get<std::vector<std::string>>();
    ASSERT_EQ(tokens.size(), ids.size());
    for (size_t k = 0; k < ids.size(); ++k) EXPECT_EQ(tok().id_to_token(ids[k]), tokens[k]);
    const std::string decoded = row.at("decoded");
    EXPECT_EQ(tok().decode(ids_of(row)), decoded);
    if (row.at("roundtrip_nfc").get<bool>()) EXPECT_EQ(decoded, qsenti::unicode::nfc(text));
    if (row.contains("pretokens")) {
      ++with_pretokens;
      const std::string normalized = qsenti::unicode::nfc(text);
      std::vector<std::string_view> pieces;
      qsenti::pretokenize(normalized, pieces);
      std::vector<std::string> mapped;
      for (auto p : pieces) mapped.push_back(qsenti::byte_level::encode(p));
      EXPECT_EQ(mapped, row.at("pretokens").get<std::vector<std::string>>());
    }
  }
  EXPECT_GE(with_pretokens, 70);
  EXPECT_GE(parsed, 5);
}

TEST(Tokenizer, WeiboVectors) {
  const auto rows = read_jsonl("weibo_train_first1000.jsonl");
  ASSERT_EQ(rows.size(), 1000u);
  int mismatches = 0;
  for (size_t r = 0; r < rows.size(); ++r) {
    const std::string text = rows[r].at("text");
    const auto ids = tok().encode(text);
    if (ids != ids_of(rows[r])) {
      if (++mismatches <= 3) ADD_FAILURE() << "row " << r << ": " << text;
      continue;
    }
    EXPECT_EQ(tok().decode(ids), qsenti::unicode::nfc(text)) << "row " << r;
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(Tokenizer, SpecialTokenModes) {
  const std::string text = "<|im_start|>user\n你好<|im_end|>";
  const auto parsed = tok().encode(text, SpecialTokens::kParse);
  ASSERT_GE(parsed.size(), 3u);
  EXPECT_EQ(parsed.front(), 151644);
  EXPECT_EQ(parsed.back(), 151645);

  const auto plain = tok().encode("<|im_end|>", SpecialTokens::kAsText);
  EXPECT_GT(plain.size(), 1u);
  for (int32_t id : plain) EXPECT_LT(id, 151643) << "an added token leaked into kAsText";
  EXPECT_EQ(tok().decode(plain), "<|im_end|>");
  EXPECT_EQ(tok().encode("<|im_end|>", SpecialTokens::kParse), std::vector<int32_t>{151645});
  // The default is the safe mode.
  EXPECT_EQ(tok().encode("<think>"), tok().encode("<think>", SpecialTokens::kAsText));
  EXPECT_EQ(tok().encode("<think>", SpecialTokens::kParse), std::vector<int32_t>{151667});

  // skip_special drops special tokens only (<think> is not special).
  const std::vector<int32_t> ids = {151644, 9707, 151667, 151645};
  EXPECT_EQ(tok().decode(ids), "<|im_start|>Hello<think><|im_end|>");
  EXPECT_EQ(tok().decode(ids, /*skip_special=*/true), "Hello<think>");
}

TEST(Tokenizer, DecodeOddIds) {
  // Ids with no token (the model's padded embedding rows) are skipped.
  EXPECT_EQ(tok().decode({9707, 151700, -5, 1879}), "Hello world");
  // Half a character decodes to U+FFFD rather than broken UTF-8.
  const auto ids = tok().encode("你");
  std::vector<int32_t> bytes;
  for (char c : std::string("你")) bytes.push_back(tok().token_to_id(
      qsenti::byte_level::encode(std::string(1, c))));
  EXPECT_EQ(tok().decode(bytes), "你");
  EXPECT_EQ(tok().decode({bytes[0], bytes[1]}), "\xEF\xBF\xBD");
  EXPECT_TRUE(tok().decode({}).empty());
  EXPECT_TRUE(tok().encode("").empty());
}

// The scanning merge loop (short words) and the heap (long words, written
// after tokenizers' own) agree on random merge tables and words, ties between
// equal pairs included.
TEST(Bpe, ScanAndHeapAgree) {
  std::mt19937 rng(1234);
  for (int table = 0; table < 20; ++table) {
    std::array<int32_t, 256> byte_ids;
    for (int b = 0; b < 256; ++b) byte_ids[b] = b;
    std::vector<qsenti::BpeModel::Merge> merges;
    std::set<std::pair<int32_t, int32_t>> used;
    int32_t next_id = 256;
    std::vector<int32_t> pool = {'a', 'b', 'c', 'd'};
    for (int r = 0; r < 150; ++r) {
      const int32_t a = pool[rng() % pool.size()], b = pool[rng() % pool.size()];
      if (!used.insert({a, b}).second) continue;
      merges.push_back({a, b, next_id});
      pool.push_back(next_id++);
    }
    if (table % 2) {
      // Merged-token ids out of rank order: the model must then order merges
      // by rank, not by id. Renumber the new tokens in reverse.
      const auto renumber = [&](int32_t id) { return id < 256 ? id : next_id - 1 - (id - 256); };
      for (auto& m : merges) m = {renumber(m.left), renumber(m.right), renumber(m.result)};
    }
    const qsenti::BpeModel bpe(byte_ids, merges, next_id);
    for (int k = 0; k < 200; ++k) {
      std::string word(1 + rng() % 300, 'a');
      for (char& c : word) c = static_cast<char>('a' + rng() % 4);
      std::vector<int32_t> scan, heap;
      bpe.encode_word_scan(word, scan);
      bpe.encode_word_heap(word, heap);
      ASSERT_EQ(scan, heap) << "table " << table << " word " << word;
    }
  }
}

TEST(Utf8, ReplacementMatchesPython) {
  // Expected values from Python's bytes.decode("utf-8", errors="replace").
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"abc", "abc"},
      {"\xff", "\xef\xbf\xbd"},
      {"a\x80" "b", "a\xef\xbf\xbd" "b"},
      {"\xc3", "\xef\xbf\xbd"},
      {"\xc3\xa9", "\xc3\xa9"},
      {"\xe4\xbd", "\xef\xbf\xbd"},
      {"\xe4\xbd\xa0", "\xe4\xbd\xa0"},
      {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
      {"\xf0\x9f\x98", "\xef\xbf\xbd"},
      {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},
      {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
      {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},
      {"\xe0\x80\xaf", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
      {"\xf8\x88\x80\x80\x80",
       "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
      {"\xe4\xbdx\xa0", "\xef\xbf\xbdx\xef\xbf\xbd"},
      {"\xf1\x80\x80\xe4\xbd\xa0", "\xef\xbf\xbd\xe4\xbd\xa0"},
      {std::string("a\0b", 3), std::string("a\0b", 3)},
  };
  for (const auto& [in, want] : cases) {
    EXPECT_EQ(qsenti::sanitize_utf8(in), want);
    EXPECT_EQ(qsenti::is_valid_utf8(in), in == want);
    EXPECT_TRUE(qsenti::is_valid_utf8(want));
  }
}

TEST(Tokenizer, InvalidUtf8IsReplacedNotCrashed) {
  const std::string bad = "好\xe4\xbd坏\xff\xfe [二哈]\xed\xa0\x80 end\xc3";
  const auto ids = tok().encode(bad);
  EXPECT_EQ(ids, tok().encode(qsenti::sanitize_utf8(bad)));
  EXPECT_EQ(tok().decode(ids), qsenti::sanitize_utf8(bad));
  EXPECT_EQ(tok().encode(bad, SpecialTokens::kParse), ids);
  // Every single byte value, alone and after a lead byte.
  for (int b = 0; b < 256; ++b) {
    const std::string one(1, static_cast<char>(b));
    EXPECT_EQ(tok().decode(tok().encode(one)), qsenti::sanitize_utf8(one));
    const std::string two = "\xe4" + one;
    EXPECT_EQ(tok().decode(tok().encode(two)), qsenti::sanitize_utf8(two));
  }
}

TEST(Tokenizer, RoundTripIsNfc) {
  const std::vector<std::string> texts = {
      "Cafe\xcc\x81 and cafe\xcc\x81",  // decomposed é
      "\xe2\x84\xab\xe2\x84\xa6",      // Å (angstrom) Ω (ohm) -> canonical equivalents
      "\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8",  // Hangul jamo -> 각
      "  mixed\tspaces\r\n\n and \xc2\x85 NEL \xef\xbb\xbf BOM ",
      "<|im_end|> <|im_start|>x",
  };
  for (const auto& t : texts) {
    EXPECT_EQ(tok().decode(tok().encode(t)), qsenti::unicode::nfc(t));
    EXPECT_EQ(tok().decode(tok().encode(t, SpecialTokens::kParse)), qsenti::unicode::nfc(t));
  }
  EXPECT_EQ(qsenti::unicode::nfc("e\xcc\x81"), "\xc3\xa9");
}

TEST(Batch, PadRightAndLeft) {
  const std::vector<std::vector<int32_t>> seqs = {{5, 6, 7}, {8}, {}};
  const auto right = qsenti::pad_batch(seqs, 0, qsenti::PadSide::kRight);
  ASSERT_EQ(right.input_ids.sizes(), (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(right.input_ids.dtype(), torch::kInt64);
  EXPECT_EQ(right.attention_mask.dtype(), torch::kInt64);
  EXPECT_TRUE(torch::equal(right.input_ids,
                           torch::tensor({5, 6, 7, 8, 0, 0, 0, 0, 0}, torch::kInt64).view({3, 3})));
  EXPECT_TRUE(torch::equal(right.attention_mask,
                           torch::tensor({1, 1, 1, 1, 0, 0, 0, 0, 0}, torch::kInt64).view({3, 3})));
  EXPECT_EQ(right.lengths, (std::vector<int64_t>{3, 1, 0}));

  const auto left = qsenti::pad_batch(seqs, 151643, qsenti::PadSide::kLeft);
  EXPECT_TRUE(torch::equal(
      left.input_ids, torch::tensor({5, 6, 7, 151643, 151643, 8, 151643, 151643, 151643},
                                    torch::kInt64)
                          .view({3, 3})));
  EXPECT_TRUE(torch::equal(left.attention_mask,
                           torch::tensor({1, 1, 1, 0, 0, 1, 0, 0, 0}, torch::kInt64).view({3, 3})));
  EXPECT_EQ(left.lengths, (std::vector<int64_t>{3, 1, 0}));

  const auto empty = qsenti::pad_batch({}, 0, qsenti::PadSide::kLeft);
  EXPECT_EQ(empty.input_ids.sizes(), (std::vector<int64_t>{0, 0}));
}

TEST(Batch, Truncate) {
  const std::vector<int32_t> ids = {1, 2, 3, 4, 5};
  EXPECT_EQ(qsenti::truncate(ids, 3), (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(qsenti::truncate(ids, 3, /*keep_end=*/true), (std::vector<int32_t>{3, 4, 5}));
  EXPECT_EQ(qsenti::truncate(ids, 10), ids);
  EXPECT_EQ(qsenti::truncate(ids, -1), ids);
  EXPECT_TRUE(qsenti::truncate(ids, 0).empty());
}

TEST(Tokenizer, ThreadsAndBatchAgree) {
  const auto rows = read_jsonl("weibo_train_first1000.jsonl");
  std::vector<std::string> texts;
  std::vector<std::vector<int32_t>> want;
  for (const auto& r : rows) {
    texts.push_back(r.at("text"));
    want.push_back(ids_of(r));
  }
  constexpr int kThreads = 4;
  std::vector<int> bad(kThreads, 0);
  std::vector<std::thread> pool;
  for (int t = 0; t < kThreads; ++t) {
    pool.emplace_back([&, t] {
      // Each thread walks the texts from a different starting point.
      for (size_t k = 0; k < texts.size(); ++k) {
        const size_t i = (k + static_cast<size_t>(t) * 250) % texts.size();
        if (tok().encode(texts[i]) != want[i]) ++bad[t];
      }
    });
  }
  for (auto& th : pool) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(bad[t], 0) << "thread " << t;

  const auto batch = tok().encode_batch(texts);
  EXPECT_EQ(batch, want);
  const auto cut = tok().encode_batch(texts, SpecialTokens::kAsText, 8);
  ASSERT_EQ(cut.size(), texts.size());
  for (size_t i = 0; i < cut.size(); ++i) EXPECT_EQ(cut[i], qsenti::truncate(want[i], 8));
}

// A tiny tokenizer.json in the Qwen3 format: the 256 byte tokens (id = byte),
// four merges, three added tokens. Loads in no time, so the loader's checks
// can be tried on many variants.
json tiny_tokenizer(bool merges_as_strings = false) {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b)
    vocab[qsenti::byte_level::encode(std::string(1, static_cast<char>(b)))] = b;
  const std::vector<std::pair<std::string, std::string>> merges = {
      {"h", "e"}, {"l", "l"}, {"he", "ll"}, {"Ġ", "w"}};
  json m = json::array();
  int32_t id = 256;
  for (const auto& [a, b] : merges) {
    vocab[a + b] = id++;
    m.push_back(merges_as_strings ? json(a + " " + b) : json::array({a, b}));
  }
  json added = json::array();
  for (const char* t : {"<|endoftext|>", "<|im_start|>", "<|im_end|>"})
    added.push_back({{"id", id++}, {"content", t}, {"single_word", false}, {"lstrip", false},
                     {"rstrip", false}, {"normalized", false}, {"special", true}});
  const json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false},
                           {"trim_offsets", false}, {"use_regex", false}};
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", added},
          {"normalizer", {{"type", "NFC"}}},
          {"pre_tokenizer",
           {{"type", "Sequence"},
            {"pretokenizers",
             json::array({{{"type", "Split"},
                           {"pattern", {{"Regex", qsenti::kQwen3PretokenizerRegex}}},
                           {"behavior", "Isolated"},
                           {"invert", false}},
                          byte_level})}}},
          {"post_processor", byte_level},
          {"decoder", byte_level},
          {"model",
           {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr},
            {"continuing_subword_prefix", ""}, {"end_of_word_suffix", ""}, {"fuse_unk", false},
            {"byte_fallback", false}, {"ignore_merges", false}, {"vocab", vocab},
            {"merges", m}}}};
}

TEST(Tokenizer, TinyTokenizerFile) {
  TempDir dir;
  for (bool as_strings : {false, true}) {  // both forms of "merges"
    const auto t = Tokenizer::from_file(dir.write("tiny.json", tiny_tokenizer(as_strings).dump()));
    EXPECT_EQ(t->vocab_size(), 263);
    EXPECT_EQ(t->im_end_id(), 262);
    // "hello" -> he, ll -> hell, o; " world" -> Ġw o r l d
    EXPECT_EQ(t->encode("hello world"), (std::vector<int32_t>{258, 'o', 259, 'o', 'r', 'l', 'd'}));
    EXPECT_EQ(t->encode("hello<|im_end|>", SpecialTokens::kParse),
              (std::vector<int32_t>{258, 'o', 262}));
    EXPECT_EQ(t->decode({258, 'o', 262}), "hello<|im_end|>");
  }
}

TEST(Tokenizer, MalformedFilesNameTheFileAndProblem) {
  TempDir dir;
  const auto expect_error = [&](const std::string& name, const std::string& content,
                                const std::string& problem) {
    const std::string path = dir.write(name, content);
    try {
      Tokenizer::from_file(path);
      ADD_FAILURE() << name << ": no error";
    } catch (const qsenti::InputError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(path), std::string::npos) << msg;
      EXPECT_NE(msg.find(problem), std::string::npos) << msg;
    }
  };
  const std::string good = tiny_tokenizer().dump();
  expect_error("empty.json", "", "not valid JSON");
  expect_error("truncated.json", good.substr(0, good.size() / 2), "not valid JSON");
  expect_error("array.json", "[1, 2]", "not an object");
  const auto variant = [](const std::function<void(json&)>& change) {
    json j = tiny_tokenizer();
    change(j);
    return j.dump();
  };
  expect_error("nfkc.json", variant([](json& j) { j["normalizer"] = {{"type", "NFKC"}}; }),
               "normalizer");
  expect_error("regex.json", variant([](json& j) {
                 j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\s+";
               }),
               "regex");
  expect_error("merge.json", variant([](json& j) {
                 j["model"]["merges"].push_back(json::array({"Ġw", "nonexistent_token"}));
               }),
               "nonexistent_token");
  expect_error("vocab.json", variant([](json& j) { j["model"]["vocab"]["he"] = "nine"; }),
               "model.vocab");
  expect_error("nomerges.json", variant([](json& j) { j["model"].erase("merges"); }), "merges");
  expect_error("wordpiece.json", variant([](json& j) { j["model"]["type"] = "WordPiece"; }),
               "model.type");
  expect_error("dropout.json", variant([](json& j) { j["model"]["dropout"] = 0.1; }),
               "dropout");
  expect_error("nobyte.json", variant([](json& j) { j["model"]["vocab"].erase("a"); }),
               "byte-level token");
  expect_error("lstrip.json", variant([](json& j) { j["added_tokens"][0]["lstrip"] = true; }),
               "lstrip");
  expect_error("dupid.json", variant([](json& j) { j["model"]["vocab"]["zz"] = 5; }),
               "used twice");
  EXPECT_THROW(Tokenizer::from_file((dir.path / "absent.json").string()), qsenti::InputError);
}

TEST(Tokenizer, ForModelFindsOwnOrDefault) {
  TempDir dir;
  EXPECT_THROW(Tokenizer::for_model((dir.path / "nope").string()), qsenti::InputError);
  // A directory without tokenizer.json falls back to the bundled one.
  EXPECT_EQ(Tokenizer::for_model(dir.path.string())->path(), Tokenizer::default_path());
  // Its own tokenizer.json wins.
  const std::string own = dir.write("tokenizer.json", tiny_tokenizer().dump());
  const auto t = Tokenizer::for_model(dir.path.string());
  EXPECT_EQ(t->path(), own);
  EXPECT_EQ(t->vocab_size(), 263);
}

TEST(Cli, TokenizeLines) {
  TempDir dir;
  const std::string input = dir.write("in.txt", "Hello world\n\n<|im_end|>你好\r\n");
  const std::string jl = dir.write("in.jsonl", "\"a\\nb\"\n\"\"\n\"<think>\"\n");
  const std::string badjl = dir.write("bad.jsonl", "\"ok\"\n{\"a\": 1}\n");
  const std::string bin = qsenti::test::binary();
  // Each run pays LibTorch's start-up: start them all at once.
  const std::vector<std::string> cmds = {
      bin + " tokenize < " + input,
      bin + " tokenize --parse-special < " + input,
      bin + " tokenize --json-lines --tokenizer " + Tokenizer::default_path() +
          " --parse-special < " + jl,
      bin + " tokenize --json-lines < " + badjl + " 2>/dev/null",
      bin + " tokenize --model " + (dir.path / "absent").string() + " < " + input +
          " 2>/dev/null",
      bin + " tokenize --help",
  };
  std::vector<FILE*> pipes;
  for (const auto& c : cmds) pipes.push_back(popen(c.c_str(), "r"));
  std::vector<std::pair<int, std::string>> res;
  for (FILE* p : pipes) {
    std::string out;
    if (p) {
      char buf[4096];
      size_t n;
      while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    }
    const int status = p ? pclose(p) : -1;
    res.emplace_back(status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1, out);
  }

  EXPECT_EQ(res[0].first, 0);
  EXPECT_EQ(res[0].second, ids_line({9707, 1879}) + "\n" + ids_line(tok().encode("<|im_end|>你好")));
  EXPECT_EQ(res[1].first, 0);
  std::vector<int32_t> parsed = {151645};
  for (int32_t id : tok().encode("你好")) parsed.push_back(id);
  EXPECT_EQ(res[1].second, ids_line({9707, 1879}) + "\n" + ids_line(parsed));
  EXPECT_EQ(res[2].first, 0);
  EXPECT_EQ(res[2].second, ids_line(tok().encode("a\nb")) + "\n" + ids_line({151667}));
  EXPECT_EQ(res[3].first, 3);  // ExitCode::kBadInput, after the first line's ids
  EXPECT_EQ(res[3].second, ids_line(tok().encode("ok")));
  EXPECT_NE(res[4].first, 0);  // no such model directory
  EXPECT_EQ(res[5].first, 0);
  for (const char* opt : {"--tokenizer", "--model", "--json-lines", "--parse-special"})
    EXPECT_NE(res[5].second.find(opt), std::string::npos) << opt;
}

}  // namespace
