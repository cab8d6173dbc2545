"""Keeps, from auto_explain's log, the slowest plan of each distinct statement (long literal
lists shortened), slowest first: the plans docs/benchmarks.md quotes.

  distinct_plans.py < postgresql.log > plans.txt
"""
import re
import sys

blocks = re.split(r"\n(?=\S.*LOG:  duration)", sys.stdin.read())
slowest = {}
for block in blocks:
    duration = re.search(r"duration: ([\d.]+) ms", block)
    query = re.search(r"Query Text: (.*)", block)
    if not (duration and query):
        continue
    ms, key = float(duration.group(1)), query.group(1)
    runs = slowest.get(key, (0.0, "", 0))[2] + 1
    if ms >= slowest.get(key, (-1.0,))[0]:
        slowest[key] = (ms, block, runs)
    else:
        slowest[key] = (*slowest[key][:2], runs)


def shorten(line):
    line = re.sub(r"'\{([\d,]{60})[\d,]*\}'", r"'{\1...}'", line)
    return line if len(line) <= 400 else line[:400] + " ..."


for ms, block, runs in sorted(slowest.values(), key=lambda v: -v[0]):
    print(f"-- slowest of {runs} run(s): {ms:.3f} ms")
    print("\n".join(shorten(line) for line in block.splitlines()[1:]).rstrip())
    print()
