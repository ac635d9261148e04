#!/usr/bin/env python3
"""Trains small byte-level BPE tokenizers on Isaac Newton's Opticks and
writes them in Hugging Face's tokenizer.json format, with reference
encodings of a few thousand lines of varied text, for nabla's tokenizer
tests (tokenizer/testdata/).

The encoder here is written from the published description of byte-level
BPE (GPT-2's byte-to-unicode table, the pre-tokenizer regexes of GPT-2,
LLaMA 3 and Qwen2 run with the `regex` module, which has the lookahead
that Go's RE2 lacks, and merges applied lowest rank first); it shares no
code with the Go implementation it checks.

It also trains a SentencePiece-style BPE (LLaMA 2's: characters, "▁"
for spaces, byte fallback, <unk> <s> </s>) and writes it in LLaMA 2's
tokenizer.json form and in the Metaspace form, with their cases.

Usage: python3 bench/reference/make_bpe_reference.py [GOROOT]
Needs Debian's python3-regex.
"""

import collections
import json
import os
import random
import subprocess
import sys
import unicodedata

import regex

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tokenizer", "testdata")

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3_PATTERN = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
QWEN2_PATTERN = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""


def bytes_to_unicode():
    """GPT-2's table: printable bytes map to themselves, the others to
    code points from 256 up, so every byte is one visible character."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


B2U = bytes_to_unicode()
U2B = {u: b for b, u in B2U.items()}


def train(corpus, pattern, vocab_size, specials):
    """Byte-level BPE training: the most frequent adjacent pair is merged
    until the vocabulary has vocab_size entries (specials included); ties
    go to the pair that sorts first."""
    words = collections.Counter()
    for piece in regex.findall(pattern, corpus):
        words["".join(B2U[b] for b in piece.encode("utf-8"))] += 1
    seqs = [list(w) for w in words]
    freq = [words[w] for w in words]
    pairs = collections.Counter()
    where = collections.defaultdict(set)
    for i, s in enumerate(seqs):
        for a, b in zip(s, s[1:]):
            pairs[(a, b)] += freq[i]
            where[(a, b)].add(i)
    vocab = [B2U[b] for b in range(256)]
    merges = []
    while len(vocab) + len(specials) < vocab_size and pairs:
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        if pairs[best] <= 0:
            break
        merges.append(best)
        new = best[0] + best[1]
        vocab.append(new)
        for i in list(where[best]):
            s = seqs[i]
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] -= freq[i]
            out, j = [], 0
            while j < len(s):
                if j + 1 < len(s) and s[j] == best[0] and s[j + 1] == best[1]:
                    out.append(new)
                    j += 2
                else:
                    out.append(s[j])
                    j += 1
            seqs[i] = out
            for a, b in zip(out, out[1:]):
                pairs[(a, b)] += freq[i]
                where[(a, b)].add(i)
        for k in [k for k, v in pairs.items() if v <= 0]:
            del pairs[k]
    return vocab, merges


def bpe(word, ranks):
    """Applies the merges to one pre-token, lowest rank first, every
    occurrence of that pair left to right."""
    parts = list(word)
    while len(parts) > 1:
        cand = [(ranks.get((a, b)), i) for i, (a, b) in enumerate(zip(parts, parts[1:])) if (a, b) in ranks]
        if not cand:
            break
        r = min(c[0] for c in cand)
        a, b = next((parts[i], parts[i + 1]) for rr, i in cand if rr == r)
        out, j = [], 0
        while j < len(parts):
            if j + 1 < len(parts) and parts[j] == a and parts[j + 1] == b:
                out.append(a + b)
                j += 2
            else:
                out.append(parts[j])
                j += 1
        parts = out
    return parts


def encode(text, tok):
    vocab = {t: i for i, t in enumerate(tok["tokens"])}
    ranks = {m: r for r, m in enumerate(tok["merges"])}
    specials = sorted(tok["specials"], key=len, reverse=True)
    ids = []
    i = 0
    segments = []
    start = 0
    while i < len(text):
        hit = next((s for s in specials if text.startswith(s, i)), None)
        if hit:
            segments.append((False, text[start:i]))
            segments.append((True, hit))
            i += len(hit)
            start = i
        else:
            i += 1
    segments.append((False, text[start:]))
    for special, seg in segments:
        if special:
            ids.append(vocab[seg])
            continue
        if tok["nfc"]:
            seg = unicodedata.normalize("NFC", seg)
        for piece in regex.findall(tok["pattern"], seg):
            word = "".join(B2U[b] for b in piece.encode("utf-8"))
            ids.extend(vocab[p] for p in bpe(word, ranks))
    return ids


def decode(ids, tokens):
    return bytes(U2B[c] for i in ids for c in tokens[i]).decode("utf-8", errors="replace")


def tokenizer_json(kind, vocab, merges, specials, pattern):
    added = [
        {"id": len(vocab) + i, "content": s, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
        for i, s in enumerate(specials)
    ]
    full = {t: i for i, t in enumerate(vocab)}
    for a in added:
        full[a["content"]] = a["id"]
    if kind == "gpt2":
        pre = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
        normalizer = None
        merge_list = [a + " " + b for a, b in merges]  # the older string form
    else:
        pre = {
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": False},
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
            ],
        }
        normalizer = {"type": "NFC"} if kind == "qwen2" else None
        merge_list = [[a, b] for a, b in merges]  # the newer pair form
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": normalizer,
        "pre_tokenizer": pre,
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "vocab": full,
            "merges": merge_list,
        },
    }


def test_lines(corpus, rng):
    lines = [l for l in corpus.splitlines() if l.strip()]
    rng.shuffle(lines)
    out = lines[:2000]
    extra = [
        "café naïve résumé Ångström façade", "Größe Straße über", "déjà vu — «quoted» ‘single’ “double”",
        "日本語のテキストと漢字", "中文分词测试，标点符号。", "한국어 문장입니다", "Ελληνικά και Кириллица",
        "emoji 😀👍🏽🎉 and 👨‍👩‍👧 family", "tabs\tand\t\tmore\ttabs", "trailing spaces   ", "   leading spaces",
        "multiple\n\nnewlines\r\nand CRLF", "numbers 1234567 3.14159 1e-9 0x1F", "I'm you're they've we'll it's 'S 'LL",
        "<|endoftext|>", "before<|endoftext|>after", "a <|endoftext|> b <|endoftext|><|endoftext|>", "  \u00a0non-breaking\u2009thin",
        "Mixed CAPS and lower, PUNCT!!! ??? ...", "e\u0301 (e + combining acute) vs é", "",
        " ", "\n", "x" * 300, "🙂" * 20,
    ]
    for e in extra:
        out.append(e)
    pieces = ["the", " light", "Opticks", "ü", "水", "😀", "\t", "  ", "\n", "'s", "123", "<|endoftext|>", ",", " ", "ﬁ", "Å"]
    for _ in range(1000):
        out.append("".join(rng.choice(pieces) for _ in range(rng.randint(1, 12))))
    return out


def main():
    goroot = sys.argv[1] if len(sys.argv) > 1 else subprocess.check_output(["go", "env", "GOROOT"], text=True).strip()
    with open(os.path.join(goroot, "src", "testdata", "Isaac.Newton-Opticks.txt"), encoding="utf-8") as f:
        corpus = f.read()
    os.makedirs(OUT, exist_ok=True)
    rng = random.Random(1)
    lines = test_lines(corpus, rng)
    for kind, pattern, specials in [
        ("gpt2", GPT2_PATTERN, ["<|endoftext|>"]),
        ("llama3", LLAMA3_PATTERN, ["<|begin_of_text|>", "<|end_of_text|>", "<|endoftext|>"]),
        ("qwen2", QWEN2_PATTERN, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]),
    ]:
        vocab, merges = train(corpus, pattern, 1000, specials)
        tj = tokenizer_json(kind, vocab, merges, specials, pattern)
        with open(os.path.join(OUT, kind + "-tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(tj, f, ensure_ascii=False, indent=1)
        tokens = vocab + specials
        tok = {"tokens": tokens, "merges": merges, "specials": specials, "pattern": pattern, "nfc": kind == "qwen2"}
        cases = []
        for line in lines:
            ids = encode(line, tok)
            case = {"text": line, "ids": ids}
            if decode(ids, tokens) != line:  # only where normalization changed the text
                case["decoded"] = decode(ids, tokens)
            cases.append(case)
        with open(os.path.join(OUT, kind + "-cases.json"), "w", encoding="utf-8") as f:
            json.dump(cases, f, ensure_ascii=False)
        print(kind, len(vocab), "tokens,", len(merges), "merges,", len(cases), "cases")
    make_spm(corpus, lines)


# --- SentencePiece-style BPE (LLaMA 2, Mistral, TinyLlama) ---------------
#
# Written from the published behaviour of Hugging Face's tokenizer.json for
# these models: spaces are spelled "▁" by a normalizer (Prepend "▁", then
# Replace " " -> "▁") or by a Metaspace pre-tokenizer; the BPE works on
# characters; a character not in the vocabulary becomes one <0xXX> token
# per UTF-8 byte (byte_fallback) or <unk> (consecutive ones fused); the
# decoder replaces "▁" by " ", turns runs of byte tokens back into UTF-8
# (U+FFFD per byte where they are not valid), concatenates and strips one
# leading space.

SPM_SPECIALS = ["<unk>", "<s>", "</s>"]
SP = "\u2581"


def train_spm(corpus, vocab_size, min_char_count=3):
    """BPE over characters: words are the normalized lines cut before each
    "▁"; characters seen fewer than min_char_count times are left to byte
    fallback and never merged; the most frequent pair is merged (ties to
    the pair that sorts first) until the vocabulary has vocab_size ids."""
    chars = collections.Counter()
    words = collections.Counter()
    for line in corpus.splitlines():
        if not line:
            continue
        norm = SP + line.replace(" ", SP)
        chars.update(norm)
        for w in regex.findall(SP + "[^" + SP + "]*|[^" + SP + "]+", norm):
            words[w] += 1
    alphabet = sorted((c for c, n in chars.items() if n >= min_char_count), key=lambda c: (-chars[c], c))
    vocab = SPM_SPECIALS + ["<0x%02X>" % b for b in range(256)] + alphabet
    known = set(alphabet)
    seqs = [list(w) for w in words]
    freq = [words[w] for w in words]
    pairs = collections.Counter()
    where = collections.defaultdict(set)

    def count(i, s, sign):
        for a, b in zip(s, s[1:]):
            if a in known and b in known:
                pairs[(a, b)] += sign * freq[i]
                if sign > 0:
                    where[(a, b)].add(i)

    for i, s in enumerate(seqs):
        count(i, s, 1)
    merges = []
    while len(vocab) < vocab_size and pairs:
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        if pairs[best] <= 0:
            break
        merges.append(best)
        new = best[0] + best[1]
        vocab.append(new)
        known.add(new)
        for i in list(where[best]):
            s = seqs[i]
            count(i, s, -1)
            out, j = [], 0
            while j < len(s):
                if j + 1 < len(s) and s[j] == best[0] and s[j + 1] == best[1]:
                    out.append(new)
                    j += 2
                else:
                    out.append(s[j])
                    j += 1
            seqs[i] = out
            count(i, out, 1)
        for k in [k for k, v in pairs.items() if v <= 0]:
            del pairs[k]
    return vocab, merges


def spm_tokenizer_json(kind, vocab, merges):
    added = [
        {"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
        for i, s in enumerate(SPM_SPECIALS)
    ]
    if kind == "llama2":  # LLaMA 2's form: a normalizer, no pre-tokenizer
        normalizer = {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": SP},
            {"type": "Replace", "pattern": {"String": " "}, "content": SP},
        ]}
        pre = None
        decoder = {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": SP}, "content": " "},
            {"type": "ByteFallback"},
            {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0},
        ]}
        merge_list = [a + " " + b for a, b in merges]
    else:  # the Metaspace form of newer conversions
        normalizer = None
        pre = {"type": "Metaspace", "replacement": SP, "prepend_scheme": "first", "split": True}
        decoder = {"type": "Sequence", "decoders": [
            {"type": "ByteFallback"},
            {"type": "Metaspace", "replacement": SP, "prepend_scheme": "first", "split": True},
        ]}
        merge_list = [[a, b] for a, b in merges]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": normalizer,
        "pre_tokenizer": pre,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}},
        },
        "decoder": decoder,
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": "<unk>",
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": True,
            "byte_fallback": True,
            "vocab": {t: i for i, t in enumerate(vocab)},
            "merges": merge_list,
        },
    }


def spm_encode(text, kind, vocab, ranks):
    """Encodes as the tokenizer.json of spm_tokenizer_json(kind) says; the
    post-processor's <s> is not added (add_special_tokens=False, see
    post_process)."""
    ids = []
    specials = sorted(SPM_SPECIALS, key=len, reverse=True)
    segments, start, i = [], 0, 0
    while i < len(text):
        hit = next((s for s in specials if text.startswith(s, i)), None)
        if hit:
            segments.append((None, text[start:i], start))
            segments.append((hit, None, i))
            i += len(hit)
            start = i
        else:
            i += 1
    segments.append((None, text[start:], start))
    for special, seg, offset in segments:
        if special:
            ids.append(vocab[special])
            continue
        if not seg:
            continue
        if kind == "llama2":
            words = [SP + seg.replace(" ", SP)]
        else:
            seg = seg.replace(" ", SP)
            if offset == 0 and not seg.startswith(SP):  # prepend_scheme "first"
                seg = SP + seg
            words = regex.findall(SP + "[^" + SP + "]*|[^" + SP + "]+", seg)  # split: "▁" merged with what follows
        for w in words:
            parts = []
            for c in w:
                if c in vocab:
                    parts.append(c)
                else:  # byte fallback: every byte has a token here
                    parts.extend("<0x%02X>" % b for b in c.encode("utf-8"))
            ids.extend(vocab[p] for p in bpe(parts, ranks))
    return ids


def post_process(pp, ids):
    """Applies the single-text template of a TemplateProcessing
    post-processor to ids, as encoding with add_special_tokens=True does:
    its Sequence piece is the text's ids, each SpecialToken piece the ids
    that special_tokens gives it."""
    if pp is None:
        return ids
    assert pp["type"] == "TemplateProcessing", pp["type"]
    out = []
    for piece in pp["single"]:
        if "Sequence" in piece:
            out.extend(ids)
        else:
            out.extend(pp["special_tokens"][piece["SpecialToken"]["id"]]["ids"])
    return out


def spm_decode(ids, kind, tokens):
    """The decoder chain on the tokens (specials included, as
    skip_special_tokens=False decodes)."""
    toks = [tokens[i] for i in ids]
    if kind == "llama2":
        toks = [t.replace(SP, " ") for t in toks]
    # ByteFallback: a run of <0xXX> tokens becomes its UTF-8 text
    out, run = [], []
    for t in toks + [None]:
        if t is not None and regex.fullmatch(r"<0x[0-9A-F]{2}>", t):
            run.append(int(t[3:5], 16))
            continue
        if run:
            try:
                out.append(bytes(run).decode("utf-8"))
            except UnicodeDecodeError:
                out.extend(["\ufffd"] * len(run))
            run = []
        if t is not None:
            out.append(t)
    if kind == "llama2":
        text = "".join(out)  # Fuse
        return text[1:] if text.startswith(" ") else text  # Strip start 1
    # Metaspace (prepend_scheme "first"): "▁" is a space, dropped in the first token
    return "".join(t.replace(SP, "") if i == 0 else t.replace(SP, " ") for i, t in enumerate(out))


def spm_lines(lines):
    out = [l.replace("<|endoftext|>", "</s>") for l in lines]
    out += [
        "<s>Hello world", "<s> Hello", "a<s>b</s>c", "</s>", "<unk>", "x <unk> y",
        SP + "literal lower one eighth", "two" + SP + SP + "marks", "  two leading spaces", "trailing  ",
        "\u00a0no-break\u00a0space", "tab\there", "中文 and 日本語 with byte fallback", "🙂🙂 🎉", "ǅ ẞ Ω ∑ ∫",
    ]
    return out


def make_spm(corpus, lines):
    vocab, merges = train_spm(corpus, 1000)
    ranks = {m: r for r, m in enumerate(merges)}
    index = {t: i for i, t in enumerate(vocab)}
    for kind in ["llama2", "metaspace"]:
        tj = spm_tokenizer_json(kind, vocab, merges)
        with open(os.path.join(OUT, kind + "-tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(tj, f, ensure_ascii=False, indent=1)
        cases = []
        spm = spm_lines(lines)
        for i, line in enumerate(spm):
            ids = spm_encode(line, kind, index, ranks)
            case = {"text": line, "ids": ids}
            # add_special_tokens=True on every 10th line and the edge cases
            # at the end (<s> in the text, the empty line, leading spaces)
            if i % 10 == 0 or i >= len(lines):
                case["ids_special"] = post_process(tj["post_processor"], ids)
            d = spm_decode(ids, kind, vocab)
            if d != line:
                case["decoded"] = d
            cases.append(case)
        with open(os.path.join(OUT, kind + "-cases.json"), "w", encoding="utf-8") as f:
            json.dump(cases, f, ensure_ascii=False)
        print(kind, len(vocab), "tokens,", len(merges), "merges,", len(cases), "cases,",
              sum("decoded" in c for c in cases), "decode differently")


if __name__ == "__main__":
    main()
