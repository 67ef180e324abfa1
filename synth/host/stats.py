"""What a live session measured: notes, underflows, render times, stalls; and its summary line."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LiveStats:
    notes_played: int = 0
    notes_skipped: int = 0
    underflows: int = 0
    audio_backend: str = ""
    engine_priority: str = ""
    blocks_rendered: int = 0
    peak_render_ms: float = 0.0
    peak_callback_ms: float = 0.0
    latency_frames: int = 0  # the most a key press can wait: ring target plus one block (measured p50 is lower)
    midi_events: int = 0
    osc_messages: int = 0
    model_swaps: int = 0
    seconds: float = 0.0
    allocator: str = ""
    underflow_at_s: list[float] = field(default_factory=list)  # when the first 100 happened
    # Blocks that took longer to render than they last (first 100): (at s, wall ms, engine CPU ms, events)
    slow_blocks: list[tuple[float, float, float, int]] = field(default_factory=list)
    engine_stalls: list[tuple[float, float]] = field(default_factory=list)  # (at s, ms) loop gaps over 2 blocks
    gc_pauses: list[tuple[float, int, float]] = field(default_factory=list)  # (at s, generation, ms) over 1 ms
    clock_origin: float = 0.0  # CLOCK_MONOTONIC seconds of "at s" = 0, to line the times up with other tools
    # The ring's spares rendered again in place because MIDI or an action changed the sound: how
    # often, how many blocks, and how many of those the device had begun to read before they were
    # whole again (each a block whose start is the old guess and whose end the new).
    rewrites: int = 0
    blocks_rewritten: int = 0
    late_rewrites: int = 0


def summary(stats: LiveStats) -> str:
    return (f"played {stats.notes_played} notes in {stats.seconds:.1f} s; underflows {stats.underflows}; "
            f"peak render {stats.peak_render_ms:.2f} ms, peak callback {stats.peak_callback_ms:.3f} ms; "
            f"MIDI events {stats.midi_events}")
