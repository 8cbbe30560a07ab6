#!/usr/bin/env python3
"""Near-duplicate detection the way a user would script it with datasketch, side by side
with dreamd's, on the same corpus.

    cargo bench --bench consolidate -- --scales 1 --export /tmp/dreamd-corpus
    pip install datasketch
    python3 tools/datasketch_compare.py /tmp/dreamd-corpus [THRESHOLD, default 0.8]

Reads entries.tsv (id, ground-truth group, text) and rust_pairs.tsv / rust_timing.json
written by the benchmark. Entries of the same group `f<N>` are restatements of one fact
(true duplicates); `o<N>` is an older value of fact N (NOT a duplicate: merging it is
data loss). Precision is over predicted pairs; recall is over true pairs, counting a true
pair found when both entries end up in one cluster of the predicted pairs.
"""
import json
import re
import sys
import time
from collections import defaultdict
from itertools import combinations

from datasketch import MinHash, MinHashLSH

NUM_PERM = 64
THRESHOLD = float(sys.argv[2]) if len(sys.argv) > 2 else 0.8


def words(text):
    text = re.sub(r"^\s*[-*+]\s+", "", text.lower())
    return set(w for w in re.findall(r"[a-z0-9][a-z0-9.\-/']*", text))


def datasketch_pairs(texts):
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    sigs = []
    for i, t in enumerate(texts):
        m = MinHash(num_perm=NUM_PERM)
        m.update_batch([w.encode() for w in words(t)])
        sigs.append(m)
        lsh.insert(str(i), m)
    pairs = set()
    for i, m in enumerate(sigs):
        for j in lsh.query(m):
            j = int(j)
            if j != i:
                pairs.add((min(i, j), max(i, j)))
    return pairs


def evaluate(pairs, groups):
    n = len(groups)
    correct = sum(1 for a, b in pairs if groups[a] == groups[b])
    precision = correct / len(pairs) if pairs else 1.0
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        parent[find(a)] = find(b)
    by_group = defaultdict(list)
    for i, g in enumerate(groups):
        by_group[g].append(i)
    true_pairs = found = 0
    for members in by_group.values():
        for a, b in combinations(members, 2):
            true_pairs += 1
            found += find(a) == find(b)
    recall = found / true_pairs if true_pairs else 1.0
    wrong_old = sum(1 for a, b in pairs if groups[a][1:] == groups[b][1:] and groups[a] != groups[b])
    return precision, recall, len(pairs), wrong_old


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "/tmp/dreamd-corpus"
    groups, texts = [], []
    with open(f"{d}/entries.tsv", encoding="utf-8") as f:
        for line in f:
            _, g, t = line.rstrip("\n").split("\t", 2)
            groups.append(g)
            texts.append(t)
    t0 = time.perf_counter()
    ds = datasketch_pairs(texts)
    ds_secs = time.perf_counter() - t0
    rust = set()
    with open(f"{d}/rust_pairs.tsv") as f:
        for line in f:
            a, b = map(int, line.split())
            rust.add((a, b))
    rust_secs = json.load(open(f"{d}/rust_timing.json"))["seconds"]
    print(f"{len(texts)} entries; datasketch MinHashLSH(threshold={THRESHOLD}, num_perm={NUM_PERM})")
    print(f"{'':12} {'seconds':>8} {'pairs':>7} {'precision':>9} {'recall':>7} {'old-value merges':>16}")
    for name, pairs, secs in [("datasketch", ds, ds_secs), ("dreamd", rust, rust_secs)]:
        p, r, n, wrong = evaluate(pairs, groups)
        print(f"{name:12} {secs:8.3f} {n:7d} {p:9.4f} {r:7.4f} {wrong:16d}")
    print(f"speed ratio (datasketch / dreamd): {ds_secs / max(rust_secs, 1e-9):.1f}x")


if __name__ == "__main__":
    main()
