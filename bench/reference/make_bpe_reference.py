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


if __name__ == "__main__":
    main()
