# pair.py N "CMD_A" "CMD_B" ... : runs the commands in turn N times each (after one warm-up round),
# syncing (untimed) after every run; prints per-command median wall and CPU, and median ratios to the LAST command.
import subprocess, sys, time, resource, statistics, os
USAGE = 'usage: python3 bench/pair.py N "CMD" ... "R_CMD"  (N rounds; ratios are to the last command)'
if len(sys.argv) > 1 and sys.argv[1] in ("-h", "--help"):
    print(USAGE); sys.exit(0)
if len(sys.argv) < 3 or not sys.argv[1].isdigit() or int(sys.argv[1]) < 1:
    print(f"Cannot run the rounds: {' '.join(sys.argv[1:2]) or 'no N'} is not a round count N >= 1 followed by commands; {USAGE}", file=sys.stderr)
    sys.exit(2)
n = int(sys.argv[1]); cmds = sys.argv[2:]
def run(c):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN); t = time.monotonic()
    done = subprocess.run(c, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if done.returncode != 0:
        print(f"Cannot time \"{c}\": it exited {done.returncode}; run it alone to see why", file=sys.stderr)
        sys.exit(1)
    w = time.monotonic() - t; r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    os.sync(); time.sleep(0.3)
    return w, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
for c in cmds: run(c)
res = {c: [] for c in cmds}
for i in range(n):
    for c in cmds: res[c].append(run(c))
base = res[cmds[-1]]
for c in cmds:
    w = [x[0] for x in res[c]]; u = [x[1] for x in res[c]]
    ratio = [a[0] / b[0] for a, b in zip(res[c], base)]
    print(f"{statistics.median(w):6.3f} s wall ({min(w):.3f}-{max(w):.3f})  {statistics.median(u):5.2f} cpu  ratio {statistics.median(ratio):.3f} ({min(ratio):.3f}-{max(ratio):.3f})  {c[:70]}")
