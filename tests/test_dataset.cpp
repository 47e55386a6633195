// Data readers, label sets and train/validation splits.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "io/dataset.h"
#include "test_util.h"
#include "io/labels.h"
#include "io/split.h"
#include "train/train_options.h"
#include "util/error.h"

using namespace qsenti;

namespace {

const std::string kData = std::string(qsenti::test::fixtures_dir()) + "/data/";

Dataset read_string(const std::string& content, const std::string& source,
                    ReadOptions options = {}) {
  std::istringstream in(content);
  return read_dataset(in, source, options);
}

std::vector<Row> rows_of(const std::string& content, const std::string& source,
                         DataFormat format = DataFormat::kAuto, bool skip = false) {
  std::istringstream in(content);
  RowReader reader(in, source, format, skip);
  std::vector<Row> rows;
  Row row;
  while (reader.next(row)) rows.push_back(row);
  return rows;
}

// The message of the InputError that reading `content` throws ("" if none).
std::string read_error(const std::string& content, const std::string& source,
                       ReadOptions options = {}) {
  try {
    read_string(content, source, options);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

// ---------------------------------------------------------------- labels

TEST(LabelSet, BinaryAcceptsAliases) {
  LabelSet b = LabelSet::binary();
  ASSERT_EQ(b.size(), 2u);
  EXPECT_TRUE(b.is_binary());
  EXPECT_EQ(b.names(), (std::vector<std::string>{"negative", "positive"}));
  for (const char* s : {"0", "negative", "neg", "NEG", "Negative", "负面", " 0 "}) {
    EXPECT_EQ(b.index_of(s), 0) << s;
  }
  for (const char* s : {"1", "positive", "pos", "POSITIVE", "正面"}) {
    EXPECT_EQ(b.index_of(s), 1) << s;
  }
  for (const char* s : {"2", "-1", "", "neutral", "01", "1.0"}) {
    EXPECT_FALSE(b.index_of(s).has_value()) << s;
  }
  EXPECT_EQ(b.display_name(0), "负面");
  EXPECT_EQ(b.display_name(1), "正面");
  EXPECT_THROW(b.name(2), Error);
}

TEST(LabelSet, NamedSetMatchesOnlyExactNames) {
  LabelSet s({"anger", "joy"});
  EXPECT_FALSE(s.is_binary());
  EXPECT_EQ(s.index_of("joy"), 1);
  EXPECT_FALSE(s.index_of("Joy").has_value());
  EXPECT_FALSE(s.index_of("0").has_value());
  EXPECT_EQ(s.display_name(0), "anger");
  EXPECT_THROW(LabelSet({"a", "a"}), InputError);
  EXPECT_THROW(LabelSet({"a", ""}), InputError);
  EXPECT_THROW(LabelSet({"a", " b"}), InputError);
}

TEST(LabelSet, InferRules) {
  EXPECT_EQ(LabelSet::infer({"1", "0", "neg", "正面"}), LabelSet::binary());
  EXPECT_EQ(LabelSet::infer({"1"}), LabelSet::binary());
  // Integers sort numerically, not by text.
  EXPECT_EQ(LabelSet::infer({"10", "2", "-1", "2"}).names(),
            (std::vector<std::string>{"-1", "2", "10"}));
  EXPECT_EQ(LabelSet::infer({"0", "1", "2"}).names(), (std::vector<std::string>{"0", "1", "2"}));
  // Names sort by bytes, whatever order they come in.
  EXPECT_EQ(LabelSet::infer({"sadness", "joy", "anger", "joy"}).names(),
            (std::vector<std::string>{"anger", "joy", "sadness"}));
  // A non-canonical integer makes every label a name.
  EXPECT_EQ(LabelSet::infer({"07", "10", "9"}).names(),
            (std::vector<std::string>{"07", "10", "9"}));
  EXPECT_TRUE(LabelSet::infer({}).empty());
}

TEST(LabelSet, StrayLabelsAreTheSlipsNotTheClasses) {
  using V = std::vector<std::string>;
  EXPECT_EQ(LabelSet::stray_labels({"0", "1", "1", "0", "7"}), V{"7"});          // a gap
  EXPECT_EQ(LabelSet::stray_labels({"0", "1", "good", "1", "0"}), V{"good"});    // a word among digits
  EXPECT_EQ(LabelSet::stray_labels({"good", "bad", "bad", "1"}), V{"1"});        // a digit among words
  EXPECT_EQ(LabelSet::stray_labels({"9", "0", "1", "2", "3", "3"}), V{"9"});
  // Deliberate sets: aliases mixed, contiguous integers, names.
  EXPECT_TRUE(LabelSet::stray_labels({"0", "positive", "neg", "正面"}).empty());
  EXPECT_TRUE(LabelSet::stray_labels({"1", "2", "3", "4", "5"}).empty());
  EXPECT_TRUE(LabelSet::stray_labels({"-1", "0", "1"}).empty());
  EXPECT_TRUE(LabelSet::stray_labels({"negative", "neutral", "positive"}).empty());
  EXPECT_TRUE(LabelSet::stray_labels({}).empty());
}

TEST(Dataset, AStrayLabelIsRefusedWithItsLineUnlessDeclared) {
  // Before: "7" made a 3-class set {0, 1, 7} and the binary names were lost.
  const std::string text = "好\t1\n差\t0\n中\t7\n棒\t1\n";
  EXPECT_EQ(read_error(text, "x.tsv", {}),
            "x.tsv:3: label '7' does not fit the labels of the other rows (0, 1): a typo? fix the row, or "
            "declare the classes with --labels");
  EXPECT_NE(read_error("好\t1\n差\t0\n中\tgood\n", "x.tsv", {}).find("x.tsv:3: label 'good'"), std::string::npos);
  // Skipping bad rows drops it and keeps the binary set.
  ReadOptions skip;
  skip.skip_bad_rows = true;
  Dataset ds = read_string(text, "x.tsv", skip);
  EXPECT_EQ(ds.label_set, LabelSet::binary());
  EXPECT_EQ(ds.lines, (std::vector<int64_t>{1, 2, 4}));
  ASSERT_EQ(ds.bad_rows.size(), 1u);
  EXPECT_EQ(ds.bad_rows[0].line, 3);
  // Declared classes take it as a class.
  ReadOptions declared;
  declared.labels = LabelSet({"0", "1", "7"});
  EXPECT_EQ(read_string(text, "x.tsv", declared).labels, (std::vector<int64_t>{1, 0, 2, 1}));
}

// ---------------------------------------------------------------- formats

TEST(DataFormat, FromExtensionAndName) {
  EXPECT_EQ(data_format_for_path("a/b.tsv"), DataFormat::kTsv);
  EXPECT_EQ(data_format_for_path("a/b.TXT"), DataFormat::kTsv);
  EXPECT_EQ(data_format_for_path("b.csv"), DataFormat::kCsv);
  EXPECT_EQ(data_format_for_path("b.jsonl"), DataFormat::kJsonl);
  EXPECT_EQ(data_format_for_path("b.json"), DataFormat::kJsonl);
  EXPECT_EQ(data_format_for_path("-"), DataFormat::kTsv);
  EXPECT_EQ(data_format_for_path("<stdin>"), DataFormat::kTsv);
  EXPECT_THROW(data_format_for_path("b.dat"), InputError);
  EXPECT_THROW(data_format_for_path("dir.v2/noext"), InputError);
  EXPECT_EQ(parse_data_format("CSV"), DataFormat::kCsv);
  EXPECT_EQ(parse_data_format("plain"), DataFormat::kPlain);
  EXPECT_THROW(parse_data_format("xml"), Error);
  EXPECT_STREQ(data_format_name(DataFormat::kJsonl), "jsonl");
}

TEST(Dataset, MissingFileIsAnError) {
  EXPECT_THROW(read_dataset(kData + "no_such_file.tsv"), Error);
}

// ---------------------------------------------------------------- TSV

TEST(Tsv, ReadsFixtureWithMixedLabelSpellings) {
  Dataset ds = read_dataset(kData + "mixed_labels.tsv");
  ASSERT_EQ(ds.size(), 4u);
  EXPECT_EQ(ds.label_set, LabelSet::binary());
  EXPECT_EQ(ds.texts[0], "今天天气真好，心情愉快");
  EXPECT_EQ(ds.texts[3], "服务态度差 😡");
  EXPECT_EQ(ds.labels, (std::vector<int64_t>{1, 0, 1, 0}));
  EXPECT_EQ(ds.lines, (std::vector<int64_t>{1, 2, 4, 5}));  // line 3 is blank
  EXPECT_EQ(ds.blank_lines, 1);
  EXPECT_TRUE(ds.bad_rows.empty());
  EXPECT_EQ(ds.class_counts(), (std::vector<int64_t>{2, 2}));
}

TEST(Tsv, CrlfAndByteOrderMark) {
  Dataset ds = read_string("\xEF\xBB\xBF好\t1\r\n坏\t0\r\n", "x.tsv");
  ASSERT_EQ(ds.size(), 2u);
  EXPECT_EQ(ds.texts[0], "好");
  EXPECT_EQ(ds.texts[1], "坏");
  EXPECT_EQ(ds.labels, (std::vector<int64_t>{1, 0}));
}

TEST(Tsv, HeaderFindsColumnsInAnyOrder) {
  Dataset ds = read_string("id\tLabel\ttext\n7\t0\t差评\n8\t1\t好评\n", "x.tsv");
  ASSERT_EQ(ds.size(), 2u);
  EXPECT_EQ(ds.texts, (std::vector<std::string>{"差评", "好评"}));
  EXPECT_EQ(ds.labels, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(ds.lines, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(read_error("label\ttext\n1\ta\tb\n", "x.tsv"),
            "x.tsv:2: expected 2 tab-separated fields, found 3");
}

TEST(Tsv, MalformedRowsNameFileAndLine) {
  EXPECT_EQ(read_error("好\t1\na\tb\t1\n", "d/x.tsv"),
            "d/x.tsv:2: expected text<TAB>label, found 3 tab-separated fields");
  EXPECT_EQ(read_error("好\t1\n没有标签\n", "x.tsv"), "x.tsv:2: missing label");
  EXPECT_EQ(read_error("好\t1\n空标签\t  \n", "x.tsv"), "x.tsv:2: missing label");
  EXPECT_EQ(read_error("好\t1\n \t1\n", "x.tsv"), "x.tsv:2: empty text");
  EXPECT_EQ(read_error("好\t1\n\xE3\x80\x80\t1\n", "x.tsv"), "x.tsv:2: empty text");
  EXPECT_EQ(read_error("好\t1\n\n\nab\xFF\t0\n", "x.tsv"),
            "x.tsv:4: invalid UTF-8 in the text at byte 3");
  ReadOptions fixed;
  fixed.labels = LabelSet::binary();
  EXPECT_EQ(read_error("好\t1\n还行\tneutral\n", "x.tsv", fixed),
            "x.tsv:2: unknown label 'neutral' (expected negative, positive)");
  EXPECT_EQ(read_error("", "x.tsv"), "x.tsv: no labelled rows");
}

TEST(Tsv, RejectsEveryKindOfInvalidUtf8) {
  const std::vector<std::string> bad = {
      "\xC0\xAF",          // overlong '/'
      "\xE0\x80\xAF",      // overlong, 3 bytes
      "\xED\xA0\x80",      // surrogate U+D800
      "\xF4\x90\x80\x80",  // above U+10FFFF
      "\xE4\xBD",          // truncated 好
      "\x80",              // lone continuation byte
      "\xF8\x88\x80\x80",  // 5-byte form
  };
  for (const auto& b : bad) {
    std::string msg = read_error("x" + b + "y\t1\n", "x.tsv");
    EXPECT_NE(msg.find("invalid UTF-8"), std::string::npos) << msg;
  }
  // The largest code points of each length are fine.
  Dataset ok = read_string("\xDF\xBF\xEF\xBF\xBF\xF4\x8F\xBF\xBF\t1\n", "x.tsv");
  EXPECT_EQ(ok.size(), 1u);
  EXPECT_NE(read_error("text\t\xFF\n", "x.tsv").find("invalid UTF-8 in the label"),
            std::string::npos);
}

TEST(Tsv, SkipBadRowsRecordsEveryOne) {
  ReadOptions opt;
  opt.skip_bad_rows = true;
  opt.labels = LabelSet::binary();
  Dataset ds = read_string("好\t1\n坏\n\t0\n中\t2\n\xFF\t1\na\tb\tc\n差\t0\n", "x.tsv", opt);
  EXPECT_EQ(ds.texts, (std::vector<std::string>{"好", "差"}));
  EXPECT_EQ(ds.lines, (std::vector<int64_t>{1, 7}));
  ASSERT_EQ(ds.bad_rows.size(), 5u);
  std::vector<int64_t> lines;
  for (const auto& b : ds.bad_rows) lines.push_back(b.line);
  EXPECT_EQ(lines, (std::vector<int64_t>{2, 3, 4, 5, 6}));
  EXPECT_EQ(ds.bad_rows[0].problem, "missing label");
  EXPECT_EQ(ds.bad_rows[1].problem, "empty text");
  EXPECT_NE(ds.bad_rows[2].problem.find("unknown label '2'"), std::string::npos);
  EXPECT_NE(ds.bad_rows[3].problem.find("invalid UTF-8"), std::string::npos);
  EXPECT_EQ(describe_bad_rows("x.tsv", ds.bad_rows, 2),
            "skipped 5 bad rows in x.tsv: line 2 (missing label), line 3 (empty text) and 3 "
            "more");
  EXPECT_EQ(describe_bad_rows("x.tsv", {}), "");
  // Nothing left at all is still an error.
  EXPECT_EQ(read_error("坏\n\t0\n", "x.tsv", opt), "x.tsv: no labelled rows (2 bad rows skipped)");
}

TEST(Tsv, RealWeiboTrainingSplit) {
  Dataset ds = read_dataset(std::string(qsenti::test::source_dir()) + "/data/weibo2018/train.tsv");
  EXPECT_EQ(ds.size(), 10000u);
  EXPECT_EQ(ds.label_set, LabelSet::binary());
  EXPECT_EQ(ds.class_counts(), (std::vector<int64_t>{4504, 5496}));
  EXPECT_TRUE(ds.bad_rows.empty());
  EXPECT_EQ(ds.lines.back(), 10000);
}

// ---------------------------------------------------------------- CSV

TEST(Csv, QuotingBomCrlfColumnOrderAndExtraColumns) {
  Dataset ds = read_dataset(kData + "reviews_bom_crlf.csv");
  ASSERT_EQ(ds.size(), 4u);
  EXPECT_EQ(ds.label_set, LabelSet::binary());
  EXPECT_EQ(ds.texts[0], "好吃, 还会再来");
  EXPECT_EQ(ds.texts[1], "他说\"难吃\"，再也不来了");
  EXPECT_EQ(ds.texts[2], "第一行\r\n第二行");  // a quoted line break is kept as written
  EXPECT_EQ(ds.texts[3], "普通的一天");
  EXPECT_EQ(ds.labels, (std::vector<int64_t>{1, 0, 1, 0}));
  // Records start on lines 2, 3, 4 (spanning 4-5); line 6 is blank.
  EXPECT_EQ(ds.lines, (std::vector<int64_t>{2, 3, 4, 7}));
  EXPECT_EQ(ds.blank_lines, 1);
}

TEST(Csv, QuotedFieldsEdgeCases) {
  Dataset ds = read_string(
      "label,text\n"
      "1,\"\"\"quoted\"\" start\"\n"
      "0,a \"quote\" inside\n"
      "1,\"multi\n\nline, with blank\"\n"
      "0,\"\"\"\"\n",
      "x.csv");
  ASSERT_EQ(ds.size(), 4u);
  EXPECT_EQ(ds.texts[0], "\"quoted\" start");
  EXPECT_EQ(ds.texts[1], "a \"quote\" inside");
  EXPECT_EQ(ds.texts[2], "multi\n\nline, with blank");
  EXPECT_EQ(ds.texts[3], "\"");
  EXPECT_EQ(ds.lines, (std::vector<int64_t>{2, 3, 4, 7}));
}

TEST(Csv, HeaderProblemsAreClearErrors) {
  EXPECT_EQ(read_error("id,label,body\n1,0,x\n", "x.csv"),
            "x.csv:1: the header has no 'text' or 'review' column (columns: id, label, body); name it with "
            "--text-column");
  EXPECT_EQ(read_error("id,text\n1,x\n", "x.csv"),
            "x.csv:1: the header has no 'label' column (columns: id, text); name it with --label-column");
  EXPECT_EQ(read_error("label,text,label\n1,x,1\n", "x.csv"),
            "x.csv:1: the header names column 'label' twice");
  // Without labels, a text column is all a row reader needs.
  auto rows = rows_of("id,text\n1,x\n", "x.csv");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_FALSE(rows[0].label_text.has_value());
  // "text" wins over "review".
  Dataset ds = read_string("review,text,label\nR,T,1\n", "x.csv");
  EXPECT_EQ(ds.texts[0], "T");
}

TEST(Csv, MalformedRecords) {
  EXPECT_EQ(read_error("label,text\n1,ok\n0\n", "x.csv"),
            "x.csv:3: expected 2 comma-separated fields, found 1");
  EXPECT_EQ(read_error("label,text\n1,ok\n0,a,b\n", "x.csv"),
            "x.csv:3: expected 2 comma-separated fields, found 3");
  EXPECT_EQ(read_error("label,text\n1,ok\n0,\"never closed\nmore\n", "x.csv"),
            "x.csv:3: unterminated quoted field");
  EXPECT_EQ(read_error("label,text\n1,\"closed\"junk\n", "x.csv"),
            "x.csv:2: unexpected character after a closing quote");
  EXPECT_EQ(read_error("label,text\n1,\"\"\n", "x.csv"), "x.csv:2: empty text");
  EXPECT_EQ(read_error("label,text\nmaybe,x\n", "x.csv", {DataFormat::kAuto, false,
                                                          LabelSet::binary()}),
            "x.csv:2: unknown label 'maybe' (expected negative, positive)");
  // Skipping: the reader recovers at the next record.
  ReadOptions opt;
  opt.skip_bad_rows = true;
  Dataset ds = read_string("label,text\n1,\"a\"b\n0\n1,good\n", "x.csv", opt);
  EXPECT_EQ(ds.texts, (std::vector<std::string>{"good"}));
  ASSERT_EQ(ds.bad_rows.size(), 2u);
  EXPECT_EQ(ds.bad_rows[0].line, 2);
  EXPECT_EQ(ds.bad_rows[1].line, 3);
}

TEST(Csv, NamedMultiClassLabels) {
  Dataset train = read_dataset(kData + "emotions.csv");
  EXPECT_EQ(train.label_set.names(), (std::vector<std::string>{"anger", "joy", "sadness"}));
  EXPECT_EQ(train.labels, (std::vector<int64_t>{1, 2, 0, 1, 2}));
  EXPECT_EQ(train.class_counts(), (std::vector<int64_t>{1, 2, 2}));
  EXPECT_EQ(train.texts[0], "I can't believe it, amazing");
  // A second file read against the training label set keeps its indices even
  // when it lacks a class, and rejects classes the training set lacks.
  ReadOptions opt;
  opt.labels = train.label_set;
  Dataset valid = read_string("text,label\nugh,sadness\nfine,joy\n", "v.csv", opt);
  EXPECT_EQ(valid.labels, (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(valid.label_set, train.label_set);
  EXPECT_EQ(read_error("text,label\nhm,surprise\n", "v.csv", opt),
            "v.csv:2: unknown label 'surprise' (expected anger, joy, sadness)");
}

// ---------------------------------------------------------------- JSON lines

TEST(Jsonl, ReadsNumbersStringsAndReviewKey) {
  Dataset ds = read_dataset(kData + "samples.jsonl");
  ASSERT_EQ(ds.size(), 4u);
  EXPECT_EQ(ds.label_set, LabelSet::binary());
  EXPECT_EQ(ds.texts, (std::vector<std::string>{"喜欢这个设计", "太失望了", "还不错", "物流很慢"}));
  EXPECT_EQ(ds.labels, (std::vector<int64_t>{1, 0, 1, 0}));
  EXPECT_EQ(ds.lines, (std::vector<int64_t>{1, 2, 4, 5}));
}

TEST(Jsonl, MalformedLines) {
  auto err = [](const std::string& line) { return read_error(line + "\n", "x.jsonl"); };
  EXPECT_EQ(err("{\"text\": \"a\", \"label\": 1").rfind("x.jsonl:1: invalid JSON: ", 0), 0u);
  EXPECT_EQ(err("[{\"text\": \"a\"}]"),
            "x.jsonl:1: expected a JSON object, found array (JSON lines hold one object per "
            "line)");
  EXPECT_EQ(err("[\n  {\"text\": \"a\"}"),
            "x.jsonl:1: invalid JSON: this looks like a JSON array; JSON lines hold one object "
            "per line");
  EXPECT_EQ(err("\"just a string\""), "x.jsonl:1: expected a JSON object, found string");
  EXPECT_EQ(err("{\"label\": 1}"), "x.jsonl:1: missing \"text\"");
  EXPECT_EQ(err("{\"text\": 5, \"label\": 1}"), "x.jsonl:1: \"text\" is a number, not a string");
  EXPECT_EQ(err("{\"text\": \"a\", \"label\": 0.5}"), "x.jsonl:1: label 0.5 is not an integer");
  EXPECT_EQ(err("{\"text\": \"a\", \"label\": true}"),
            "x.jsonl:1: label is a boolean, expected a string or a number");
  EXPECT_EQ(err("{\"text\": \"a\"}"), "x.jsonl:1: missing label");
  EXPECT_EQ(err("{\"text\": \"  \", \"label\": 1}"), "x.jsonl:1: empty text");
  EXPECT_EQ(err("{\"text\": \"a\xFF\", \"label\": 1}"), "x.jsonl:1: invalid UTF-8 at byte 12");
  // Unlabelled rows are fine for a row reader.
  auto rows = rows_of("{\"text\": \"a\"}\n{\"text\": \"b\", \"label\": null}\n", "x.jsonl");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_FALSE(rows[0].label_text.has_value());
  EXPECT_FALSE(rows[1].label_text.has_value());
}

// ---------------------------------------------------------------- columns

namespace {

ReadOptions with_columns(const std::string& text, const std::string& label) {
  ReadOptions o;
  o.columns = {text, label};
  return o;
}

}  // namespace

TEST(DatasetColumns, CsvByNameWithQuotedCommasNewlinesAndBom) {
  // The shape: header cat,label,review; names compared case-insensitively.
  Dataset ds = read_string(
      "\xEF\xBB\xBF" "cat,label,review\r\n"
      "food,1,\"好吃, 还会再来\"\r\n"
      "food,0,\"他说\"\"难吃\"\"\n再也不来\"\r\n",
      "x.csv", with_columns("Review", "LABEL"));
  EXPECT_EQ(ds.texts, (std::vector<std::string>{"好吃, 还会再来", "他说\"难吃\"\n再也不来"}));
  EXPECT_EQ(ds.labels, (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(ds.lines, (std::vector<int64_t>{2, 3}));
  // By index: the same columns.
  Dataset by_index = read_string("cat,label,review\nfood,1,好\nfood,0,差\n", "x.csv", with_columns("2", "1"));
  EXPECT_EQ(by_index.texts, (std::vector<std::string>{"好", "差"}));
  EXPECT_EQ(by_index.labels, (std::vector<int64_t>{1, 0}));
  // The text column named, the label found by its default name.
  EXPECT_EQ(read_string("cat,label,body\nfood,1,好\nx,0,差\n", "x.csv", with_columns("body", "")).texts,
            (std::vector<std::string>{"好", "差"}));
}

TEST(DatasetColumns, UnknownColumnsListTheHeader) {
  EXPECT_EQ(read_error("cat,label,review\nfood,1,好\n", "x.csv", with_columns("comment", "")),
            "x.csv:1: the header has no column 'comment' (--text-column; columns: cat, label, review)");
  EXPECT_EQ(read_error("cat,label,review\nfood,1,好\n", "x.csv", with_columns("review", "stars")),
            "x.csv:1: the header has no column 'stars' (--label-column; columns: cat, label, review)");
  EXPECT_EQ(read_error("cat,label,review\nfood,1,好\n", "x.csv", with_columns("5", "")),
            "x.csv:1: column 5 is past the header's 3 columns (cat, label, review)");
  EXPECT_EQ(read_error("cat,label,review\nfood,1,好\n", "x.csv", with_columns("review", "2")),
            "x.csv:1: the text and the label are the same column (review)");
  EXPECT_EQ(read_error("cat\tscore\nfood\t1\n", "x.tsv", with_columns("review", "score")),
            "x.tsv:1: the header has no column 'review' (--text-column; columns: cat, score)");
}

TEST(DatasetColumns, TsvHeaderByNameAndIndexWithoutHeader) {
  // A name makes the first line the header, even without text/label names.
  Dataset named = read_string("id\tstars\tbody\n1\t1\t好\n2\t0\t差\n", "x.tsv", with_columns("body", "stars"));
  EXPECT_EQ(named.texts, (std::vector<std::string>{"好", "差"}));
  EXPECT_EQ(named.labels, (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(named.lines, (std::vector<int64_t>{2, 3}));
  // Indices without a header: any number of fields.
  Dataset indexed = read_string("1\tfood\t好\n0\tfood\t差\n", "x.tsv", with_columns("2", "0"));
  EXPECT_EQ(indexed.texts, (std::vector<std::string>{"好", "差"}));
  EXPECT_EQ(indexed.labels, (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(indexed.lines, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(read_error("1\tfood\t好\n0\tfood\n", "x.tsv", with_columns("2", "0")),
            "x.tsv:2: expected at least 3 tab-separated fields, found 2");
  // Indices with a recognised header skip it.
  Dataset headed = read_string("cat\tlabel\treview\nfood\t1\t好\nx\t0\t差\n", "x.tsv", with_columns("2", "1"));
  EXPECT_EQ(headed.texts, (std::vector<std::string>{"好", "差"}));
  // A BOM before a named header.
  EXPECT_EQ(read_string("\xEF\xBB\xBF" "body\tstars\n好\t1\n差\t0\n", "x.tsv", with_columns("body", "stars")).size(), 2u);
}

TEST(DatasetColumns, JsonlKeys) {
  Dataset ds = read_string("{\"review\": \"x\", \"content\": \"好\", \"stars\": 1}\n"
                           "{\"content\": \"差\", \"stars\": 0}\n",
                           "x.jsonl", with_columns("content", "stars"));
  EXPECT_EQ(ds.texts, (std::vector<std::string>{"好", "差"}));
  EXPECT_EQ(ds.labels, (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(read_error("{\"body\": \"好\", \"stars\": 1}\n", "x.jsonl", with_columns("content", "stars")),
            "x.jsonl:1: missing \"content\" (--text-column; keys: body, stars)");
  EXPECT_EQ(read_error("{\"content\": \"好\", \"label\": 1}\n", "x.jsonl", with_columns("content", "stars")),
            "x.jsonl:1: missing label");
}

TEST(DatasetColumns, RowReaderWithoutLabelsForPrediction) {
  std::istringstream in("id,body\n1,好\n");
  RowReader reader(in, "x.csv");
  reader.set_columns({"body", ""});
  Row row;
  ASSERT_TRUE(reader.next(row));
  EXPECT_EQ(row.text, "好");
  EXPECT_FALSE(row.label_text.has_value());
  EXPECT_FALSE(reader.has_label_column());
  EXPECT_THROW(reader.set_columns({"id", ""}), Error);
}

TEST(DatasetColumns, SavedInTrainOptionsAndKeptOnResume) {
  TrainOptions o;
  o.method = "classifier";
  o.model = "m";
  o.train_path = "t.csv";
  o.text_column = "review";
  o.label_column = "2";
  test::TempDir dir;
  test::write_file(dir / "train_options.json", train_options_to_json(o).dump(2));
  TrainOptions given;
  given.resume = dir.path();
  const TrainOptions resumed = options_for_resume(given, "classifier");
  EXPECT_EQ(resumed.text_column, "review");
  EXPECT_EQ(resumed.label_column, "2");
  // Files written before the options existed read as the defaults.
  nlohmann::json old = train_options_to_json(o);
  old.erase("text_column");
  old.erase("label_column");
  EXPECT_EQ(train_options_from_json(old, "x").text_column, "");
}

// ---------------------------------------------------------------- streaming

TEST(RowReader, StreamsAFileRowByRow) {
  RowReader reader(kData + "reviews_bom_crlf.csv");
  EXPECT_EQ(reader.format(), DataFormat::kCsv);
  Row row;
  ASSERT_TRUE(reader.next(row));
  EXPECT_TRUE(reader.has_label_column());
  EXPECT_EQ(row.text, "好吃, 还会再来");
  EXPECT_EQ(row.label_text, std::optional<std::string>("正面"));
  EXPECT_EQ(row.line, 2);
  std::vector<int64_t> lines{row.line};
  while (reader.next(row)) lines.push_back(row.line);
  EXPECT_EQ(lines, (std::vector<int64_t>{2, 3, 4, 7}));
  EXPECT_FALSE(reader.next(row));  // stays at the end
}

TEST(RowReader, PlainTextAndUnlabelledTsv) {
  RowReader plain(kData + "posts.txt", DataFormat::kPlain);
  Row row;
  std::vector<Row> rows;
  while (plain.next(row)) rows.push_back(row);
  EXPECT_FALSE(plain.has_label_column());
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].text, "第二条\t带制表符");  // tabs are text in plain format
  EXPECT_EQ(rows[2].line, 4);
  EXPECT_EQ(plain.blank_lines(), 1);
  for (const auto& r : rows) EXPECT_FALSE(r.label_text.has_value());

  // The same file as TSV: the line with a tab has a label.
  auto tsv = rows_of("第一条微博\n第二条\t带制表符\n", "p.txt");
  ASSERT_EQ(tsv.size(), 2u);
  EXPECT_FALSE(tsv[0].label_text.has_value());
  EXPECT_EQ(tsv[1].label_text, std::optional<std::string>("带制表符"));

  ReadOptions opt;
  opt.format = DataFormat::kPlain;
  EXPECT_THROW(read_dataset(kData + "posts.txt", opt), InputError);
}

TEST(RowReader, CallerReportedProblems) {
  std::istringstream in("a\t1\nb\t1\n");
  RowReader reader(in, "x.tsv", DataFormat::kAuto, /*skip_bad_rows=*/true);
  Row row;
  ASSERT_TRUE(reader.next(row));
  reader.bad_row(row.line, "too long");
  ASSERT_EQ(reader.bad_rows().size(), 1u);
  EXPECT_EQ(reader.bad_rows()[0].line, 1);
  std::istringstream in2("a\t1\n");
  RowReader strict(in2, "x.tsv");
  ASSERT_TRUE(strict.next(row));
  try {
    strict.bad_row(row.line, "too long");
    FAIL() << "no throw";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "x.tsv:1: too long");
  }
}

// ---------------------------------------------------------------- splits

namespace {

std::vector<int64_t> make_labels(const std::vector<int>& counts) {
  std::vector<int64_t> labels;
  for (size_t c = 0; c < counts.size(); ++c) labels.insert(labels.end(), static_cast<size_t>(counts[c]), static_cast<int64_t>(c));
  return labels;
}

void expect_partition(const Split& s, size_t n) {
  std::vector<size_t> all = s.train;
  all.insert(all.end(), s.valid.begin(), s.valid.end());
  std::sort(all.begin(), all.end());
  std::vector<size_t> expected(n);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(all, expected);  // disjoint and complete
  EXPECT_TRUE(std::is_sorted(s.train.begin(), s.train.end()));
  EXPECT_TRUE(std::is_sorted(s.valid.begin(), s.valid.end()));
}

std::vector<int64_t> count_in(const std::vector<size_t>& idx, const std::vector<int64_t>& labels,
                              size_t k) {
  std::vector<int64_t> c(k, 0);
  for (size_t i : idx) ++c[labels[i]];
  return c;
}

}  // namespace

TEST(Split, StratifiedDisjointComplete) {
  // Class 2 has 2 examples (one must go to validation), class 3 only one.
  const auto labels = make_labels({100, 50, 2, 1});
  Split s = stratified_split(labels, 0.2, 7);
  expect_partition(s, labels.size());
  EXPECT_EQ(count_in(s.valid, labels, 4), (std::vector<int64_t>{20, 10, 1, 0}));
  EXPECT_EQ(count_in(s.train, labels, 4), (std::vector<int64_t>{80, 40, 1, 1}));
  // A small class gets a validation example even when its share rounds to 0,
  // and a tiny fraction still leaves one for training.
  const auto skewed = make_labels({100, 2});
  EXPECT_EQ(count_in(stratified_split(skewed, 0.1, 7).valid, skewed, 2),
            (std::vector<int64_t>{10, 1}));
  EXPECT_EQ(count_in(stratified_split(skewed, 0.9, 7).valid, skewed, 2),
            (std::vector<int64_t>{90, 1}));
}

TEST(Split, LargestRemainderHitsTheRoundedTotal) {
  const auto labels = make_labels({4504, 5496});
  Split s = stratified_split(labels, 0.1, 1);
  expect_partition(s, labels.size());
  EXPECT_EQ(s.valid.size(), 1000u);
  EXPECT_EQ(count_in(s.valid, labels, 2), (std::vector<int64_t>{450, 550}));
}

TEST(Split, DeterministicPerSeedAndShuffled) {
  const auto labels = make_labels({300, 200});
  Split a = stratified_split(labels, 0.25, 42);
  Split b = stratified_split(labels, 0.25, 42);
  Split c = stratified_split(labels, 0.25, 43);
  EXPECT_EQ(a.valid, b.valid);
  EXPECT_EQ(a.train, b.train);
  EXPECT_NE(a.valid, c.valid);
  EXPECT_EQ(count_in(a.valid, labels, 2), count_in(c.valid, labels, 2));
  // Not simply the first or last rows of each class.
  std::vector<size_t> head(a.valid.begin(), a.valid.begin() + 75);
  std::vector<size_t> first75(75);
  std::iota(first75.begin(), first75.end(), 0);
  EXPECT_NE(head, first75);
  // Labels need not be 0..K-1, nor sorted.
  std::vector<int64_t> odd = {5, -3, 5, -3, 5, -3, 5, -3};
  Split o = stratified_split(odd, 0.5, 3);
  expect_partition(o, odd.size());
  EXPECT_EQ(o.valid.size(), 4u);
}

TEST(Split, PinnedOutputForASeed) {
  // mt19937_64 and our own Fisher-Yates are fully specified, so this is the
  // same on every platform and standard library; a change here would silently
  // change every run's validation set.
  const auto labels = make_labels({6, 4});
  Split s = stratified_split(labels, 0.3, 2024);
  EXPECT_EQ(s.valid, (std::vector<size_t>{0, 2, 6}));
}

TEST(Split, FractionBounds) {
  const auto labels = make_labels({5, 5});
  Split none = stratified_split(labels, 0.0, 1);
  EXPECT_TRUE(none.valid.empty());
  EXPECT_EQ(none.train.size(), 10u);
  EXPECT_THROW(stratified_split(labels, 1.0, 1), Error);
  EXPECT_THROW(stratified_split(labels, -0.1, 1), Error);
  EXPECT_TRUE(stratified_split({}, 0.2, 1).train.empty());
}

TEST(Split, ShuffleIsAPermutationAndUniformBelowInRange) {
  std::mt19937_64 rng(9);
  std::vector<int> v(1000);
  std::iota(v.begin(), v.end(), 0);
  fisher_yates_shuffle(v, rng);
  std::vector<int> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(sorted[i], i);
  EXPECT_NE(v[0] + v[1] + v[2], 0 + 1 + 2);
  std::vector<int> hist(3, 0);
  for (int i = 0; i < 3000; ++i) {
    uint64_t x = uniform_below(rng, 3);
    ASSERT_LT(x, 3u);
    ++hist[x];
  }
  for (int h : hist) EXPECT_GT(h, 850);
}
