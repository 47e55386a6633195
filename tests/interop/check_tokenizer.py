"""qsenti tokenize against Hugging Face tokenizers, token for token.

Texts: the 10,000 bundled Weibo posts and 5,000 strings from a seeded
generator (mixed scripts, emoji sequences, digit and whitespace runs,
control characters, combining marks, fullwidth forms, added-token text,
invalid UTF-8 bytes). Oracle: `Tokenizer.from_file(tokenizer.json)
.encode(text, add_special_tokens=False)`.

qsenti has two conventions for added-token text such as "<|im_end|>":
`--parse-special` makes it one id, as tokenizers does: compared against the
tokenizer as it is. The default (user data: a post cannot forge a control
token) encodes it as ordinary text: compared against the same tokenizer.json
with its added tokens removed, which is tokenizers' plain BPE path.

Invalid UTF-8: qsenti replaces each maximal ill-formed subsequence with one
U+FFFD; the oracle gets Python's bytes.decode("utf-8", "replace"), which
follows the same rule. Byte-level BPE keeps every byte, so equal ids mean
equal repaired text.

Texts go to qsenti in one process per mode: as JSON string literals
(--json-lines), which carry newlines and raw invalid bytes alike, and once
more as plain lines for every text a line can hold.
"""
import json
import random
import sys
import tempfile
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import CheckFailure  # noqa: E402

N_GENERATED = 5000
SEED = 20240917
SHOW_MISMATCHES = 5


# ---------------------------------------------------------------- generated texts

def _chars(rng, lo, hi, n):
    return "".join(chr(rng.randint(lo, hi)) for _ in range(n))


def _pick(rng, seq, n):
    return "".join(rng.choice(seq) for _ in range(n))


class TextGenerator:
    """Seeded random strings built from pieces that stress one tokenizer rule each."""

    def __init__(self, seed, added_tokens):
        self.rng = random.Random(seed)
        self.added = added_tokens
        r = self.rng
        self.pieces = [
            (6, lambda: _chars(r, 0x4E00, 0x9FFF, r.randint(1, 20))),  # CJK
            (1, lambda: _chars(r, 0x3400, 0x4DBF, r.randint(1, 3)) + _chars(r, 0x20000, 0x2A6DF, r.randint(1, 3))),
            (2, lambda: _pick(r, "，。！？、；：“”‘’（）《》【】…—～·「」『』〜", r.randint(1, 4))),
            (2, lambda: r.choice(["[哈哈]", "[允悲]", "#话题#", "@新浪微博 ", "{%#超话#%}", "//@某人:", "http://t.cn/A6ab9Xyz"])),
            (5, self._latin),
            (2, lambda: _chars(r, 0x0400, 0x04FF, r.randint(1, 10))),  # Cyrillic
            (2, lambda: _chars(r, 0x0600, 0x06FF, r.randint(1, 10))),  # Arabic, harakat, Arabic-Indic digits
            (2, lambda: _chars(r, 0x0900, 0x097F, r.randint(1, 10))),  # Devanagari
            (2, lambda: _chars(r, 0x0E01, 0x0E5B, r.randint(1, 10))),  # Thai
            (2, self._hangul),
            (4, self._emoji),
            (3, self._digits),
            (4, lambda: _pick(r, [" ", " ", "\t", "\n", "\r", "\r\n", "\u00a0", "\u3000", "\u2028", "\u2029",
                                  "\u200b", "\x0b", "\x0c", "\x85", "\u1680", "\u2003", "\ufeff"], r.randint(1, 6))),
            (2, lambda: _pick(r, [chr(c) for c in list(range(0, 32)) + list(range(0x7F, 0xA0))], r.randint(1, 3))),
            (3, self._combining),
            (2, lambda: _chars(r, 0xFF01, 0xFF5E, r.randint(1, 8)) + _chars(r, 0xFF61, 0xFF9F, r.randint(0, 3))),
            (3, self._special),
            (2, lambda: _pick(r, "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", r.randint(1, 6))),
            (2, self._any_code_point),
        ]
        self.total = sum(w for w, _ in self.pieces)

    def _latin(self):
        r = self.rng
        word = _pick(r, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", r.randint(1, 9))
        if r.random() < 0.3:
            word += r.choice(["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "'Re", "'x", "'"])
        if r.random() < 0.2:
            word += _chars(r, 0xC0, 0x24F, r.randint(1, 3))  # accented and extended Latin
        return word

    def _hangul(self):
        r = self.rng
        if r.random() < 0.5:
            return _chars(r, 0xAC00, 0xD7A3, r.randint(1, 6))
        # Conjoining jamo: NFC composes them into syllables.
        return "".join(chr(r.randint(0x1100, 0x1112)) + chr(r.randint(0x1161, 0x1175))
                       + (chr(r.randint(0x11A8, 0x11C2)) if r.random() < 0.5 else "") for _ in range(r.randint(1, 3)))

    def _emoji(self):
        r = self.rng
        kind = r.randint(0, 6)
        base = lambda: chr(r.choice([r.randint(0x1F300, 0x1F5FF), r.randint(0x1F600, 0x1F64F),  # noqa: E731
                                     r.randint(0x1F900, 0x1F9FF), r.randint(0x2600, 0x27BF)]))
        if kind == 0:
            return base() * r.randint(1, 4)
        if kind == 1:  # skin tones
            return chr(r.choice([0x1F44D, 0x1F44B, 0x1F9D1, 0x1F466, 0x270C])) + chr(r.randint(0x1F3FB, 0x1F3FF))
        if kind == 2:  # ZWJ sequences, some with skin tones and VS16
            parts = [chr(r.choice([0x1F468, 0x1F469, 0x1F467, 0x1F466, 0x1F9D1])) + (chr(r.randint(0x1F3FB, 0x1F3FF)) if r.random() < 0.3 else "")
                     for _ in range(r.randint(2, 4))]
            return "\u200d".join(parts) + r.choice(["", "\u200d\u2764\ufe0f", "\u200d\U0001F4BB"])
        if kind == 3:  # flags: regional indicator pairs, one odd
            return "".join(chr(r.randint(0x1F1E6, 0x1F1FF)) for _ in range(r.choice([2, 4, 3])))
        if kind == 4:  # keycaps, VS15/VS16
            return r.choice("0123456789#*") + "\ufe0f\u20e3" + chr(0x2764) + r.choice(["\ufe0f", "\ufe0e"])
        if kind == 5:  # tag sequence (England)
            return "\U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F"
        return "".join(base() for _ in range(r.randint(2, 6)))

    def _digits(self):
        r = self.rng
        kind = r.randint(0, 3)
        if kind == 0:
            return _pick(r, "0123456789", r.randint(1, 15))
        if kind == 1:
            return f"{r.randint(0, 10**9):,}.{r.randint(0, 999)}"
        if kind == 2:
            return _pick(r, "０１２３４５６７８９", r.randint(1, 6)) + _pick(r, "٠١٢٣٤٥٦٧٨٩", r.randint(0, 4))
        return _pick(r, "①②③ⅣⅫ½¾²³", r.randint(1, 4))  # \p{N} beyond decimal digits

    def _combining(self):
        r = self.rng
        marks = lambda n: _chars(r, 0x0300, 0x036F, n)  # noqa: E731
        kind = r.randint(0, 3)
        if kind == 0:  # base + marks, often with a precomposed form
            return r.choice("aeiouncAEIOUNCzq") + marks(r.randint(1, 3))
        if kind == 1:  # a mark with nothing to attach to
            return marks(r.randint(1, 2))
        if kind == 2:  # canonical reordering and singletons
            return r.choice(["\u1e9b\u0323", "q\u0307\u0323", "\u212b", "\u2126", "e\u0301\u0302", "\u0958", "\u0344"])
        return unicodedata.normalize("NFD", _chars(r, 0xC0, 0x17F, r.randint(1, 4)))  # decomposed Latin

    def _special(self):
        r = self.rng
        if r.random() < 0.6:
            return r.choice(self.added)
        tok = r.choice(self.added)
        return r.choice([tok[:-1], tok[1:], tok.upper(), "<" + tok + ">", tok + tok, tok.replace("|", "| "),
                         "<|im_start|>user\n", "<|im_end|>\n", "<think>\n\n</think>\n\n", "<|"])

    def _any_code_point(self):
        r = self.rng
        out = []
        for _ in range(r.randint(1, 4)):
            hi = 0xFFFF if r.random() < 0.7 else 0x10FFFF
            c = r.randint(0x20, hi)
            while 0xD800 <= c <= 0xDFFF:  # surrogates are not text
                c = r.randint(0x20, hi)
            out.append(chr(c))
        return "".join(out)

    def piece(self):
        x = self.rng.uniform(0, self.total)
        for w, f in self.pieces:
            x -= w
            if x <= 0:
                return f()
        return self.pieces[-1][1]()

    def text(self):
        r = self.rng
        n = r.choice([1, 1, 2, 3, 4, 6, 8, 12])
        sep = r.choice(["", "", " ", "\n"])
        return sep.join(self.piece() for _ in range(n))

    def long_text(self):
        r = self.rng
        kind = r.randint(0, 4)
        if kind == 0:
            return "哈" * r.randint(200, 3000)
        if kind == 1:
            return " " * r.randint(50, 2000) + "x" + " " * r.randint(1, 50)
        if kind == 2:
            return _pick(r, "0123456789", r.randint(500, 3000))
        if kind == 3:
            return "\n" * r.randint(5, 200) + "a\r\n" * r.randint(5, 100)
        return "".join(self.text() for _ in range(60))

    def invalid_bytes(self):
        """A generated text's UTF-8 with ill-formed pieces inserted (also
        inside multi-byte characters) or cut off mid-character."""
        r = self.rng
        raw = bytearray(self.text().encode("utf-8"))
        bad = [b"\x80", b"\xbf", b"\x80\x80\x80", b"\xc0\xaf", b"\xc1\xbf", b"\xe0\x80\x80", b"\xe0\x9f\xbf",
               b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xf0\x80\x80\x80", b"\xf0\x8f\xbf\xbf", b"\xf4\x90\x80\x80",
               b"\xf5\x80\x80\x80", b"\xf8\x88\x80\x80\x80", b"\xfc\x84\x80\x80\x80\x80", b"\xfe", b"\xff\xfe",
               b"\xe4\xb8", b"\xf0\x9f\x98", b"\xc3", b"\xe4", b"\xf4\x8f\xbf", b"\xc2\xc2\xa0", b"\xe4\xb8\xe4\xb8\xad"]
        for _ in range(r.randint(1, 3)):
            frag = r.choice(bad) if r.random() < 0.8 else bytes(r.randint(0x80, 0xFF) for _ in range(r.randint(1, 4)))
            at = r.randint(0, len(raw))
            raw[at:at] = frag
        if r.random() < 0.2:
            raw += "中😀".encode("utf-8")[: r.choice([1, 2, 4, 5, 6])]
        return bytes(raw)


def generated_texts(added_tokens):
    """N_GENERATED texts as UTF-8 (or deliberately invalid) bytes."""
    g = TextGenerator(SEED, added_tokens)
    out = [b"", b"", "<|endoftext|>".encode()]
    while len(out) < N_GENERATED:
        x = g.rng.random()
        if x < 0.15:
            out.append(g.invalid_bytes())
        elif x < 0.17:
            out.append(g.long_text().encode("utf-8"))
        else:
            out.append(g.text().encode("utf-8"))
    return out


# ---------------------------------------------------------------- comparison

def json_line(raw):
    """A JSON string literal for the bytes `raw`; invalid bytes stay raw
    (qsenti repairs the line before parsing it)."""
    s = raw.decode("utf-8", "surrogateescape")
    return json.dumps(s, ensure_ascii=False).encode("utf-8", "surrogateescape") + b"\n"


def fits_a_line(raw):
    return b"\n" not in raw and not raw.endswith(b"\r")


def qsenti_ids(args, texts, json_lines, parse_special):
    cmd = ["tokenize", "--tokenizer", args.source / "assets" / "qwen3-tokenizer" / "tokenizer.json"]
    if json_lines:
        cmd.append("--json-lines")
        data = b"".join(json_line(t) for t in texts)
    else:
        data = b"".join(t + b"\n" for t in texts)
    if parse_special:
        cmd.append("--parse-special")
    out = common.run_qsenti(args.qsenti, cmd, input_bytes=data).stdout.decode("ascii")
    lines = out.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) != len(texts):
        raise CheckFailure(f"qsenti tokenize gave {len(lines)} lines of ids for {len(texts)} texts")
    return [[int(x) for x in line.split()] for line in lines]


def compare(report, what, texts, got, want, hf):
    bad = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
    print(f"  {what}: {len(texts)} texts compared, {len(bad)} mismatches")
    for i in bad[:SHOW_MISMATCHES]:
        g, w = got[i], want[i]
        k = next((j for j in range(min(len(g), len(w))) if g[j] != w[j]), min(len(g), len(w)))
        print(f"    MISMATCH text #{i}: bytes {texts[i]!r}")
        print(f"      as HF gets it: {texts[i].decode('utf-8', 'replace')!r}")
        print(f"      qsenti ({len(g)}): {g}")
        print(f"      HF     ({len(w)}): {w}")
        print(f"      first difference at {k}: qsenti {[hf.id_to_token(x) for x in g[k:k + 4]]} "
              f"vs HF {[hf.id_to_token(x) for x in w[k:k + 4]]}")
    report.worst(f"tokenize {what}: mismatching texts of {len(texts)}", len(bad), 0)


def body(report):
    args = common.parse_args(__doc__.splitlines()[0])
    from tokenizers import Tokenizer

    path = args.source / "assets" / "qwen3-tokenizer" / "tokenizer.json"
    hf = Tokenizer.from_file(str(path))
    spec = json.loads(path.read_text(encoding="utf-8"))
    added = [a["content"] for a in spec["added_tokens"]]
    spec["added_tokens"] = []  # no added-token matching: qsenti's default convention
    hf_plain = Tokenizer.from_str(json.dumps(spec))

    rows = (args.source / "data" / "weibo2018" / "train.tsv").read_bytes().split(b"\n")
    weibo = [r.rstrip(b"\r").split(b"\t")[0] for r in rows if r.strip()]
    if len(weibo) != 10000:
        raise CheckFailure(f"expected 10,000 Weibo rows, read {len(weibo)}")
    generated = generated_texts(added)
    texts = weibo + generated
    invalid = sum(1 for t in generated if t.decode("utf-8", "replace").encode("utf-8") != t)
    with_added = sum(1 for t in texts if any(a.encode() in t for a in added))
    multiline = sum(1 for t in generated if not fits_a_line(t))
    print(f"  {len(weibo)} Weibo posts + {len(generated)} generated ({invalid} invalid UTF-8, "
          f"{multiline} not one line); {with_added} hold added-token text")

    decoded = [t.decode("utf-8", "replace") for t in texts]
    want_parse = [e.ids for e in hf.encode_batch(decoded, add_special_tokens=False)]
    want_text = [e.ids for e in hf_plain.encode_batch(decoded, add_special_tokens=False)]

    got = qsenti_ids(args, texts, json_lines=True, parse_special=True)
    compare(report, "--json-lines --parse-special vs tokenizers", texts, got, want_parse, hf)
    got = qsenti_ids(args, texts, json_lines=True, parse_special=False)
    compare(report, "--json-lines (added tokens as text) vs tokenizers without added tokens", texts, got,
            want_text, hf_plain)

    idx = [i for i, t in enumerate(texts) if fits_a_line(t)]
    sub = [texts[i] for i in idx]
    got = qsenti_ids(args, sub, json_lines=False, parse_special=False)
    compare(report, "plain lines (added tokens as text) vs tokenizers without added tokens", sub, got,
            [want_text[i] for i in idx], hf_plain)
    got = qsenti_ids(args, sub, json_lines=False, parse_special=True)
    compare(report, "plain lines --parse-special vs tokenizers", sub, got, [want_parse[i] for i in idx], hf)


if __name__ == "__main__":
    common.main_guard("check_tokenizer", body)
