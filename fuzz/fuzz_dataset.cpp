// The data readers: TSV, CSV (RFC 4180), JSON lines and plain text, through
// RowReader (streamed rows) and read_dataset (labels inferred or given).
// The first input byte picks the format and skip_bad_rows; the rest is the file.
// Expected for bad input: qsenti::InputError / qsenti::Error.
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "fuzz_common.h"
#include "io/dataset.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  using qsenti::DataFormat;
  static const DataFormat kFormats[] = {DataFormat::kTsv, DataFormat::kCsv, DataFormat::kJsonl, DataFormat::kPlain};
  const DataFormat format = kFormats[data[0] & 3];
  const bool skip = (data[0] & 4) != 0;
  const bool given_labels = (data[0] & 8) != 0;
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    std::istringstream in(body);
    qsenti::RowReader reader(in, "fuzz.input", format, skip);
    qsenti::Row row;
    while (reader.next(row)) {
      FUZZ_CHECK(!row.text.empty());
      FUZZ_CHECK(!row.label_text || !row.label_text->empty());
    }
    (void)qsenti::describe_bad_rows("fuzz.input", reader.bad_rows());
  } catch (const qsenti::Error&) {
  }
  if (format == DataFormat::kPlain) return 0;  // no labels to read
  try {
    std::istringstream in(body);
    qsenti::ReadOptions opt;
    opt.format = format;
    opt.skip_bad_rows = skip;
    if (given_labels) opt.labels = qsenti::LabelSet::binary();
    const qsenti::Dataset d = qsenti::read_dataset(in, "fuzz.input", opt);
    FUZZ_CHECK(d.texts.size() == d.labels.size() && d.labels.size() == d.lines.size());
    for (int64_t l : d.labels) FUZZ_CHECK(l >= 0 && l < static_cast<int64_t>(d.label_set.size()));
    const auto counts = d.class_counts();
    FUZZ_CHECK(counts.size() == d.label_set.size());
    std::vector<std::string> texts;
    for (int64_t l : d.labels) texts.push_back(d.label_set.name(l));
    (void)qsenti::LabelSet::stray_labels(texts);
  } catch (const qsenti::Error&) {
  }
  return 0;
}
