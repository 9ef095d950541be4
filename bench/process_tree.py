"""A process tree's resident memory and CPU seconds, sampled from /proc (the benchmarks' meters).

Example::

    cpu: dict[int, float] = {}
    peak = max(peak, sample_tree(proc.pid, cpu))   # bytes now; cpu[pid] = CPU seconds so far
    spent = tree_cpu_s(os.getpid())
"""
from __future__ import annotations

import os


def tree_pids(root_pid: int) -> list[int]:
    """A process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    pids, stack = [], [root_pid]
    while stack:
        pid = stack.pop()
        pids.append(pid)
        stack += children.get(pid, [])
    return pids


def tree_cpu_s(root_pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its live descendants (e.g. Spark's JVM)."""
    seen: dict[int, float] = {}
    sample_tree(root_pid, seen)
    return sum(seen.values())


def sample_tree(root_pid: int, cpu_seen: dict[int, float]) -> int:
    """Resident bytes of the process tree now; records each process's CPU seconds (user + system) so far."""
    total, page, tick = 0, os.sysconf("SC_PAGE_SIZE"), os.sysconf("SC_CLK_TCK")
    for pid in tree_pids(root_pid):
        try:
            with open(f"/proc/{pid}/statm") as handle:
                total += int(handle.read().split()[1]) * page
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            cpu_seen[pid] = (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return total
