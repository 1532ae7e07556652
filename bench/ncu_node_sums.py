import re, sys
names, vals = [], []
cur = None
for line in open(sys.argv[1]):
    m = re.match(r"^  (\S+) \(\d+, \d+, \d+\)x\(\d+, \d+, \d+\)", line)
    if m: cur = m.group(1)
    if "gpu__time_duration.sum" in line and cur:
        parts = line.split()
        unit, v = parts[-2], float(parts[-1].replace(",", ""))
        v = v / 1000 if unit == "ns" else v * 1000 if unit == "ms" else v
        names.append(cur); vals.append(v)
for g in range(0, len(vals), 25):
    chunk = vals[g:g+25]
    print(f"step {g//25}: {len(chunk)} kernels, sum {sum(chunk):.2f} us; first {names[g]}; " + " ".join(f"{x:.2f}" for x in chunk[:6]))
