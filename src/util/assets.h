#pragma once
// Where the bundled assets (the Qwen3 tokenizer) are: one lookup, one order,
// for every caller. First $QSENTI_HOME/assets (the user's explicit choice),
// then beside the binary (an installed copy: bin/assets, assets, share/qsenti
// next to bin), last the source tree the binary was built from (running from
// a build folder).
#include <string>

namespace qsenti {

// The folder holding qwen3-tokenizer/tokenizer.json; an InputError listing
// every place tried when none does.
std::string assets_dir();

// The source tree this binary was built from (tests and benchmarks read
// their fixtures and data there).
std::string source_dir();

}  // namespace qsenti
