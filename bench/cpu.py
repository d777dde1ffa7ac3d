"""CPU accounting. Other work on a shared machine moves requests/s around; CPU seconds spent by a
server's own processes per request move much less, so both are reported, with how busy the rest
of the machine was."""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

from bench import log

CLK_TCK = os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU-seconds all CPUs have spent busy since boot (from /proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def group_cpu_seconds(pgid: int) -> float:
    """user+system CPU-seconds of every live process in a process group, with its reaped
    children's."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            rest = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # rest[0] is field 3 (state); pgrp is field 5, utime..cstime are fields 14..17.
        if int(rest[2]) == pgid:
            total += sum(int(v) for v in rest[11:15])
    return total / CLK_TCK


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class CpuMeter:
    """CPU used by each server, and by everything else on the machine, between start() and
    stop(). `other` excludes both servers, this script and the programs it ran (wrk, pip)."""

    def __init__(self, groups: dict[str, int]) -> None:
        self.groups = groups

    def start(self) -> None:
        self.t0 = time.perf_counter()
        self.busy0 = machine_busy_seconds()
        self.mine0 = time.process_time() + children_cpu_seconds()
        self.group0 = {k: group_cpu_seconds(g) for k, g in self.groups.items()}

    def stop(self) -> dict:
        wall = time.perf_counter() - self.t0
        groups = {k: group_cpu_seconds(g) - self.group0[k] for k, g in self.groups.items()}
        mine = time.process_time() + children_cpu_seconds() - self.mine0
        busy = machine_busy_seconds() - self.busy0
        other = max(0.0, busy - mine - sum(groups.values()))
        cpus = os.cpu_count() or 1
        return {"wall": wall, "servers": groups, "other_share": other / (wall * cpus)}


def wait_for_quiet(*, max_wait: float, threshold: float) -> float:
    """Wait (up to max_wait s) until the machine's CPUs are less than `threshold` busy over a
    3 s sample; returns the last busy share seen."""
    cpus = os.cpu_count() or 1
    deadline = time.monotonic() + max_wait
    said = 0.0
    while True:
        b0, t0 = machine_busy_seconds(), time.perf_counter()
        time.sleep(3)
        share = (machine_busy_seconds() - b0) / ((time.perf_counter() - t0) * cpus)
        if share < threshold or time.monotonic() >= deadline:
            return share
        if time.monotonic() - said >= 30:
            left = deadline - time.monotonic()
            log(f"machine is {share:.0%} busy with other work; waiting up to {left:.0f} s more")
            said = time.monotonic()
