#!/usr/bin/env python3
"""Shares of a .NET process's CPU samples inside and outside the model (HtmEngine.Core).

Input: the output of
    perf script -i perf.data -F comm,ip,sym,dso
for a recording taken with `perf record -e cpu-clock -F 999 -g -p <pid>` of a process run with
DOTNET_PerfMapEnabled=1 and DOTNET_EnableWriteXorExecute=0 (so JIT-compiled frames resolve through
/tmp/perf-<pid>.map). A sample counts as the model's when any frame of its stack is in HtmEngine.Core (page faults and
runtime helpers under the model's code included). Code the JIT inlined into a caller outside Core counts as the
caller's (the model's encoder inlined into ShardRunner.HandleRowAsync, ~2 % in the e2e profiles).

Prints: the split by (inside/outside Core) x (what the leaf is: managed code, the kernel, the runtime), then the
samples outside Core by their outermost HtmEngine frame (the service whose continuation ran), then by their
innermost managed frame.
"""
import collections
import re
import sys


def samples(path):
    comm, frames = None, []
    with open(path, errors="replace") as f:
        for line in f:
            if not line.strip():
                if comm is not None:
                    yield comm, frames
                comm, frames = None, []
            elif not line.startswith("\t"):
                comm, frames = line.strip(), []
            else:
                frames.append(line.strip())
    if comm is not None:
        yield comm, frames


def name(frame):
    return re.sub(r"\s*\(/.*$", "", frame.split(" ", 1)[-1])


def main(path, top=25):
    total = 0
    split = collections.Counter()
    outer = collections.Counter()
    inner = collections.Counter()
    for comm, frames in samples(path):
        total += 1
        core = any("[HtmEngine.Core]" in s for s in frames)
        leaf_chain = []
        for s in frames:
            if ".map)" in s:
                break
            leaf_chain.append(s)
        if any("libcoreclr" in s for s in leaf_chain):
            kind = "runtime (GC, allocation, JIT)"
        elif any("kernel" in s for s in leaf_chain):
            kind = "kernel"
        else:
            kind = "managed / libc"
        split[("inside Core" if core else "outside Core", kind)] += 1
        if core:
            continue
        service = None
        for s in reversed(frames):
            m = re.search(r"\[(HtmEngine\.[A-Za-z]+)\] ([A-Za-z0-9_.+<>`]+)", s)
            if m:
                service = m.group(1) + " " + m.group(2)[:90]
                break
        outer[service or "(no HtmEngine frame) thread " + comm] += 1
        managed = next((name(s) for s in frames if ".map)" in s), "(no managed frame) thread " + comm)
        inner[managed[:140]] += 1

    def show(title, counter, n):
        print("--", title)
        for k, v in counter.most_common(n):
            print(f"{100.0 * v / total:6.2f} %  {k}")

    print(f"{total} samples")
    show("split", split, 10)
    show("outside Core, by outermost HtmEngine frame", outer, top)
    show("outside Core, by innermost managed frame", inner, top)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: perf-shares.py <perf script output> [rows]")
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 25)
