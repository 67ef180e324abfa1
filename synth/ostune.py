"""Operating-system tuning for the live host: thread priorities, the allocator, the JACK probe.

Each function asks for what the system allows and says what it got; none fails when the system
refuses (no real-time rights, not Linux, not glibc): the instrument then plays at normal priority.
"""

from __future__ import annotations

import os
import threading

ENGINE_RT_PRIORITY = 60  # below JACK's own real-time threads (70+), above everything else
RECEIVER_RT_PRIORITY = 50  # the note receiver: below the engine


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters
MMAP_THRESHOLD_BYTES = 32 << 20  # glibc's largest: notes (about a megabyte) come from the heap
TRIM_THRESHOLD_BYTES = (1 << 31) - 1  # never give heap memory back: no syscall inside free()


def steady_allocator() -> str:
    """Make ``free`` a bookkeeping step with no system call, so no thread ever waits on the kernel
    to release note memory.

    Measured through the stress benchmark: with glibc's defaults, once the note cache was full and
    evicting, one ``free`` trimmed tens of megabytes off the heap top inside the engine thread (a
    12 ms block, 32 s into every run). A fixed 256 KiB mmap threshold cured that but put every note
    in its own mapping, and each ``munmap`` needs the other CPU to flush its TLB: on a virtual
    machine that wait showed up as blocks of 6-12 ms wall time with under 1 ms of CPU. Notes now
    live on the heap and freed memory stays there for the next note (the cache bounds it).
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) and libc.mallopt(M_TRIM_THRESHOLD,
                                                                                  TRIM_THRESHOLD_BYTES)
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl): nothing to tune
        return "system default"
    return "glibc, heap kept, no trimming" if ok else "system default"


def jack_server_realtime() -> bool | None:
    """Whether the running JACK server schedules its clients in real time (None: no server)."""
    try:
        import jack

        client = jack.Client("gansynth-probe", no_start_server=True)
    except Exception:  # noqa: BLE001  no JACK-Client, no libjack or no server: cannot tell
        return None
    try:
        return bool(client.realtime)
    finally:
        client.close()


def choose_priority(wanted: str, host_api: str) -> str:
    """``auto``: ``fifo`` under a real-time JACK server (the engine thread then ranks just below
    JACK's own threads, like the audio callback it feeds), else ``nice``: in a server started with
    --no-realtime, a real-time engine thread would preempt the server's own threads."""
    if wanted != "auto":
        return wanted
    if "JACK" in host_api and jack_server_realtime():
        return "fifo"
    return "nice"


def raise_priority(wanted: str) -> str:
    """Raise the engine thread's priority as far as ``wanted`` (normal, nice, fifo) and the system
    allow; returns what it got."""
    if wanted == "normal" or not hasattr(os, "setpriority"):
        return "normal"
    if wanted == "fifo" and hasattr(os, "sched_setscheduler"):
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(ENGINE_RT_PRIORITY))
            return f"SCHED_FIFO {ENGINE_RT_PRIORITY}"
        except (OSError, PermissionError):
            pass
    try:
        os.setpriority(os.PRIO_PROCESS, 0, -10)
        return "nice -10"
    except (OSError, PermissionError):
        return "normal"


def lower_own_priority() -> None:
    """Run the calling thread only on CPU time nothing else wants (Linux SCHED_IDLE), else at nice 19.

    Generating notes while playing competes with the audio server and its clients for the same
    cores; measured through JACK on 2 cores, a worker at nice 10 during knob sweeps caused most
    of the dropouts. Inference releases the GIL, so an idle-class worker does not hold up the
    engine thread while it waits for a core.
    """
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        return
    except (AttributeError, OSError):
        pass
    try:  # Linux: a thread is a task
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):
        pass


def make_realtime(native_id: int | None, priority: int = RECEIVER_RT_PRIORITY) -> bool:
    """Put another thread (by its OS id) in ``SCHED_FIFO`` at ``priority``; whether it worked."""
    if native_id is None or not hasattr(os, "sched_setscheduler"):
        return False
    try:
        os.sched_setscheduler(native_id, os.SCHED_FIFO, os.sched_param(priority))
    except (OSError, TypeError):
        return False
    return True
