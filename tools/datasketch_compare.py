#!/usr/bin/env python3
"""dreamd's near-duplicate machinery side by side with datasketch, like for like.

    pip install datasketch
    cargo bench --bench consolidate -- --scales 0 --export /tmp/dsk --export-real /tmp/dsk-real
    python3 tools/datasketch_compare.py candidates /tmp/dsk
    cargo bench --bench quality -- --hard-seeds 0 --write /tmp/dreamd-real
    python3 tools/datasketch_compare.py dedupe /tmp/dsk-real ../shared/corpora/real /tmp/dreamd-real

candidates: the same candidate definition on both sides. Both get dreamd's word sets (the
same shingles), MinHash with 63 permutations and LSH banding of 21 bands x 3 rows (datasketch
`params=(21, 3)`; dreamd's `lsh::band_pairs` with no bucket cap), both timed warm (a first
run, then the timed one). Scored against the exact pairs with Jaccard >= 0.5 (inverted index,
no sampling): recall, and the share of candidates that are such pairs. Two entry sets: a
generated one (templated text, the worst case for any LSH) and every entry of the undated
real corpora. dreamd's engine does not use these LSH candidates any more (it finds its
candidates exactly, see docs/consolidator.md); its exact detection is timed too.

dedupe: end to end on the real corpora. A datasketch deduper as a user would write it
(MinHashLSH at a threshold over the same word sets, clusters by union-find, the last entry of
each cluster kept: the newest in an append-only file) against dreamd's own candidates, both
scored by the corpus' score.py: current entries kept (must be 1.0), superseded removed,
reduction.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

from datasketch import MinHash, MinHashLSH

NUM_PERM = 63
BANDS, ROWS = 21, 3


def read_entries(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            words = set(w for w in parts[-1].split("\x1f") if w)
            out.append((parts, words))
    return out


def read_pairs(path):
    with open(path) as f:
        return set(tuple(map(int, l.split())) for l in f if l.strip())


def minhashes(sets, num_perm=NUM_PERM):
    out = []
    for s in sets:
        m = MinHash(num_perm=num_perm)
        m.update_batch([w.encode("utf-8") for w in s])
        out.append(m)
    return out


def lsh_pairs(sets, **kw):
    sigs = minhashes(sets, kw.get("num_perm", NUM_PERM))
    lsh = MinHashLSH(**kw)
    for i, m in enumerate(sigs):
        lsh.insert(i, m)
    pairs = set()
    for i, m in enumerate(sigs):
        for j in lsh.query(m):
            if j != i:
                pairs.add((min(i, j), max(i, j)))
    return pairs


def jaccard(a, b):
    u = len(a | b)
    return len(a & b) / u if u else 0.0


def candidates(d):
    print(f"| entries | side | seconds (warm) | candidates | recall of Jaccard >= 0.5 pairs | candidates that are such pairs |")
    print("|---|---|---|---|---|---|")
    for name in ("generated", "real"):
        sub = os.path.join(d, name)
        rows = read_entries(os.path.join(sub, "entries.tsv"))
        sets = [w for _, w in rows]
        exact = read_pairs(os.path.join(sub, "exact_pairs_0.5.tsv"))
        timing = json.load(open(os.path.join(sub, "rust_timing.json")))
        lsh_pairs(sets, num_perm=NUM_PERM, params=(BANDS, ROWS))  # warm-up
        t0 = time.perf_counter()
        ds = lsh_pairs(sets, num_perm=NUM_PERM, params=(BANDS, ROWS))
        ds_secs = time.perf_counter() - t0
        rust = read_pairs(os.path.join(sub, "rust_lsh_pairs.tsv"))
        for side, pairs, secs in (("datasketch MinHashLSH", ds, ds_secs), ("dreamd lsh::band_pairs", rust, timing["lsh_seconds"])):
            hit = len(pairs & exact)
            good = sum(1 for a, b in pairs if jaccard(sets[a], sets[b]) >= 0.5)
            recall = hit / len(exact) if exact else 1.0
            prec = good / len(pairs) if pairs else 1.0
            print(f"| {name} ({len(sets)}) | {side} | {secs:.4f} | {len(pairs)} | {recall:.4f} | {prec:.4f} |")
        print(f"| {name} ({len(sets)}) | dreamd exact candidates + verification (the engine) | {timing['seconds']:.4f} | "
              f"{len(read_pairs(os.path.join(sub, 'rust_pairs.tsv')))} verified duplicate pairs | — | — |")
        print(f"| | speed ratio datasketch / dreamd LSH | {ds_secs / max(timing['lsh_seconds'], 1e-9):.1f}x | | | |")


def datasketch_dedupe(rows, threshold):
    """Indexes of the entries a datasketch deduper drops: all but the last of each cluster."""
    sets = [w for _, w in rows]
    keep = [i for i, s in enumerate(sets) if s]
    pairs = lsh_pairs([sets[i] for i in keep], num_perm=128, threshold=threshold)
    parent = list(range(len(keep)))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        parent[find(a)] = find(b)
    clusters = defaultdict(list)
    for k in range(len(keep)):
        clusters[find(k)].append(keep[k])
    drop = set()
    for members in clusters.values():
        members.sort()  # entries are in file order, then line order: the last is the newest
        drop.update(members[:-1])
    return drop


def write_without(src_memory, dst_memory, rows, drop):
    shutil.copytree(src_memory, dst_memory)
    by_file = defaultdict(set)
    for i in drop:
        parts = rows[i][0]
        by_file[parts[0]].add(int(parts[1]))
    for f, lines in by_file.items():
        p = os.path.join(dst_memory, f)
        os.chmod(p, 0o644)
        text = open(p, encoding="utf-8").read().split("\n")
        # An entry's first line; its continuation lines (if any) go with it.
        out, skipping = [], False
        for n, l in enumerate(text, 1):
            if n in lines:
                skipping = True
                continue
            if skipping and l.startswith((" ", "\t")) and l.strip():
                continue
            skipping = False
            out.append(l)
        open(p, "w", encoding="utf-8").write("\n".join(out))


def score(corpus_variant, cand_dir):
    out = subprocess.run([sys.executable, os.path.join(os.path.dirname(corpus_variant), "score.py"), "--corpus", corpus_variant,
                          "--candidates", cand_dir, "--json"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def dedupe(export_dir, corpus, dreamd_dir):
    print("| variant | side | current retained | superseded removed | reduction (per store, mean) |")
    print("|---|---|---|---|---|")
    for variant in ("dated", "undated"):
        cdir = os.path.join(corpus, variant)
        slugs = sorted(s for s in os.listdir(cdir) if os.path.isfile(os.path.join(cdir, s, "truth.json")))
        results = {}
        for threshold in (0.8, 0.5):
            tmp = tempfile.mkdtemp()
            for s in slugs:
                rows = read_entries(os.path.join(export_dir, variant, s, "entries.tsv"))
                write_without(os.path.join(cdir, s, "memory"), os.path.join(tmp, s, "memory"), rows, datasketch_dedupe(rows, threshold))
            results[f"datasketch MinHashLSH threshold {threshold}, last of each cluster kept"] = score(cdir, tmp)
            shutil.rmtree(tmp, ignore_errors=True)
        results["dreamd"] = score(cdir, os.path.join(dreamd_dir, variant))
        for side, r in results.items():
            red = sum(r[s]["reduction"] for s in slugs) / len(slugs)
            o = r["overall"]
            print(f"| {variant} | {side} | {o['current_retained']:.4f} | {o['superseded_removed']:.4f} | {red:.3f} |")


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "candidates":
        candidates(sys.argv[2])
    elif len(sys.argv) >= 5 and sys.argv[1] == "dedupe":
        dedupe(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        print(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
