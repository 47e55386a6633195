#pragma once
// The classes of a classification task and how label text in data files maps
// onto class indices 0..K-1.
//
// Binary sentiment is the default task: classes "negative" (0) and "positive"
// (1). A label set whose names are exactly {"negative", "positive"} also
// accepts the aliases 0/1, neg/pos and the Chinese display names 负面/正面
// (ASCII letters compared case-insensitively), so a file labelled 0/1 can be
// evaluated against a run trained on a file labelled negative/positive.
//
// Any other label set maps label text to a class only by exact name.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace qsenti {

class LabelSet {
 public:
  LabelSet() = default;
  // Throws qsenti::InputError on an empty or duplicate name.
  explicit LabelSet(std::vector<std::string> names);

  // {"negative", "positive"} with the aliases described above.
  static LabelSet binary();

  // The label set of a data file, from the label texts found in it (order and
  // repetitions do not matter; surrounding whitespace and empty texts are
  // ignored). The rule, which does not depend on the order of rows:
  //  1. every label is a binary alias (0/1, negative/positive, neg/pos,
  //     负面/正面)                   -> binary();
  //  2. every label is an integer in canonical form ("-1", "0", "7"; not
  //     "07" or "+1")             -> classes are those integers sorted
  //     numerically, named by their text: {1,2,3,4,5} gives classes 0..4
  //     named "1".."5";
  //  3. otherwise                  -> classes are the distinct texts sorted by
  //     their UTF-8 bytes.
  // A class that occurs in no row of the file cannot be inferred: when a
  // second file (validation, test) is read, pass it the training set's
  // LabelSet rather than inferring again.
  static LabelSet infer(const std::vector<std::string>& label_texts);

  // The label texts of a file that look like slips rather than classes, so
  // that inferring a label set from them would quietly add a class: a mix of
  // integer and other labels ("good" among 0/1: the kind with fewer rows is
  // the slip), or integers with a gap ("7" among 0/1: those outside the
  // contiguous run with the most rows). Empty when the set looks deliberate.
  // Declaring the classes (--labels) is the way to train on such a set.
  static std::vector<std::string> stray_labels(const std::vector<std::string>& label_texts);

  size_t size() const { return names_.size(); }
  bool empty() const { return names_.empty(); }
  const std::vector<std::string>& names() const { return names_; }
  const std::string& name(int64_t index) const;
  // 负面/正面 for the binary set, otherwise name(index).
  std::string display_name(int64_t index) const;
  bool is_binary() const { return binary_aliases_; }

  // The class index of a label text (surrounding ASCII whitespace ignored),
  // or nullopt when the text names no class of this set.
  std::optional<int64_t> index_of(std::string_view label) const;

  bool operator==(const LabelSet& other) const { return names_ == other.names_; }
  bool operator!=(const LabelSet& other) const { return !(*this == other); }

 private:
  std::vector<std::string> names_;
  std::unordered_map<std::string, int64_t> index_;
  bool binary_aliases_ = false;
};

// Surrounding ASCII whitespace removed.
std::string_view trim_ascii(std::string_view s);

}  // namespace qsenti
