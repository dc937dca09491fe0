# Builds the small CLIP BPE vocabulary in this folder (run once from the repo root; output committed).
import json
from transformers.convert_slow_tokenizer import bytes_to_unicode
chars = list(bytes_to_unicode().values())
vocab = {}
for c in chars: vocab.setdefault(c, len(vocab))
for c in chars: vocab.setdefault(c + "</w>", len(vocab))
# A few merges so common prompt words are single tokens (keeps sequences short).
words = ["a", "of", "the", "photo", "in", "with", "style", "church", "parachute", "nude", "naked",
         "van", "gogh", "woman", "man", "person", "cat", "bird", "chair", "airplane", "painting"]
merges = []
for w in words:
    parts = list(w[:-1]) + [w[-1] + "</w>"]
    while len(parts) > 1:
        a, b = parts[0], parts[1]
        m = (a, b)
        if f"{a} {b}" not in merges:
            merges.append(f"{a} {b}")
        vocab.setdefault(a + b, len(vocab))
        parts = [a + b] + parts[2:]
for special in ["<|startoftext|>", "<|endoftext|>"]:
    vocab.setdefault(special, len(vocab))
json.dump(vocab, open("dataigm/tiny_vocab/vocab.json", "w"), ensure_ascii=False, indent=0, sort_keys=False)
open("dataigm/tiny_vocab/merges.txt", "w").write("#version: 0.2\n" + "\n".join(merges) + "\n")
print(len(vocab), len(merges))
