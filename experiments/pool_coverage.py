"""Pool success@K of experiment 1 over seeds: each seed folder's coverage.json (one per variant) gives the
fraction of starts covered within K attempts; a start is covered or not, so the per-start outcomes are that
many ones among the starts. Interval: 95% hierarchical bootstrap (seeds, then starts within a seed).

    scripts/run.sh python experiments/pool_coverage.py docs/results/context-representation --k 5
        -> docs/results/context-representation/pooled.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from tmrl_learning.stats import pooled_fraction


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()
    rows: dict[tuple[str, str], dict] = {}
    seeds = sorted(p for p in args.folder.glob("s*") if p.is_dir())
    for seed in seeds:
        for path in sorted(seed.glob("*/coverage.json")):
            data = json.loads(path.read_text())
            for name, result in data["methods"].items():
                for t, curve in result["curves"].items():
                    row = rows.setdefault((name, f"t = {t}"), {"rates": [], "n": data["starts"], "seeds": []})
                    row["rates"].append(curve[args.k - 1])
                    row["seeds"].append(seed.name)
                indist = result.get("in_distribution")
                if indist:
                    row = rows.setdefault((name, "t = 0, in distribution"), {"rates": [], "n": data["indist_starts"],
                                                                            "seeds": []})
                    row["rates"].append(indist["curve"][args.k - 1])
                    row["seeds"].append(seed.name)
    rng = np.random.default_rng(0)
    lines = [f"success@{args.k} pooled over seeds ({', '.join(s.name for s in seeds)}); 95% hierarchical bootstrap "
             "(seeds, then starts)", "", "| variant | t | seeds | per seed | pooled | 95% interval |",
             "| --- | --- | --- | --- | --- | --- |"]
    for (name, t), row in rows.items():
        mean, low, high = pooled_fraction(row["rates"], row["n"], rng)
        lines.append(f"| {name} | {t} | {len(row['rates'])} | {' / '.join(f'{r:.2f}' for r in row['rates'])} | "
                     f"{mean:.2f} | [{low:.2f}, {high:.2f}] |")
    (args.folder / "pooled.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
