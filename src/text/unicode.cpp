#include "text/unicode.h"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>

#include <atomic>
#include <cstdint>

#include "text/utf8.h"
#include "util/error.h"

namespace qsenti::unicode {
namespace {

constexpr char32_t kBlockBits = 8;
constexpr char32_t kBlockSize = 1u << kBlockBits;
constexpr char32_t kNumBlocks = 0x110000 >> kBlockBits;

// Lazily filled two-level table: blocks are computed on first use and
// published with a compare-and-swap, so lookups never lock.
std::atomic<const uint8_t*> g_blocks[kNumBlocks];

uint8_t compute_flags(char32_t cp) {
  const auto c = static_cast<UChar32>(cp);
  uint8_t f = 0;
  const int32_t mask = U_GET_GC_MASK(c);
  if (mask & U_GC_L_MASK) f |= kLetter;
  if (mask & U_GC_N_MASK) f |= kNumber;
  if (u_hasBinaryProperty(c, UCHAR_WHITE_SPACE)) f |= kSpace;
  if (u_getIntPropertyValue(c, UCHAR_NFC_QUICK_CHECK) == UNORM_YES &&
      u_getCombiningClass(c) == 0)
    f |= kNfcInert;
  return f;
}

const uint8_t* make_block(char32_t block) {
  auto* table = new uint8_t[kBlockSize];
  for (char32_t k = 0; k < kBlockSize; ++k) table[k] = compute_flags((block << kBlockBits) | k);
  const uint8_t* expected = nullptr;
  if (g_blocks[block].compare_exchange_strong(expected, table, std::memory_order_acq_rel)) {
    return table;  // kept for the life of the process
  }
  delete[] table;
  return expected;
}

const icu::Normalizer2& nfc_instance() {
  static const icu::Normalizer2* inst = [] {
    UErrorCode err = U_ZERO_ERROR;
    const icu::Normalizer2* n = icu::Normalizer2::getNFCInstance(err);
    if (U_FAILURE(err) || n == nullptr)
      throw Error(std::string("ICU: cannot load the NFC normaliser: ") + u_errorName(err));
    return n;
  }();
  return *inst;
}

}  // namespace

uint8_t flags(char32_t cp) {
  if (cp >= 0x110000) return 0;
  const char32_t block = cp >> kBlockBits;
  const uint8_t* table = g_blocks[block].load(std::memory_order_acquire);
  if (table == nullptr) table = make_block(block);
  return table[cp & (kBlockSize - 1)];
}

bool nfc_if_needed(std::string_view s, std::string& out) {
  size_t i = 0;
  const size_t n = s.size();
  bool inert = true;
  while (i < n) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {  // ASCII is always inert
      ++i;
      continue;
    }
    if (!(flags(utf8::next(s, i)) & kNfcInert)) {
      inert = false;
      break;
    }
  }
  if (inert) return false;
  if (s.size() > static_cast<size_t>(INT32_MAX)) throw Error("NFC: text longer than 2 GiB");
  UErrorCode err = U_ZERO_ERROR;
  std::string result;
  result.reserve(s.size());
  icu::StringByteSink<std::string> sink(&result);
  nfc_instance().normalizeUTF8(0, icu::StringPiece(s.data(), static_cast<int32_t>(s.size())),
                               sink, nullptr, err);
  if (U_FAILURE(err)) throw Error(std::string("ICU NFC normalisation failed: ") + u_errorName(err));
  out = std::move(result);
  return true;
}

std::string nfc(std::string_view s) {
  std::string out;
  if (!nfc_if_needed(s, out)) out.assign(s.data(), s.size());
  return out;
}

}  // namespace qsenti::unicode
