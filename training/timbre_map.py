"""The timbre map: a palette model's instruments and knobs in two dimensions, for people to look at.

The plane is the one knobs 1 and 2 span (the instruments' first two principal axes). Each
held-out real note is a dot where the encoder puts it, coloured by GM family; each instrument is
its name at its preset; the two arrows are knobs 1 and 2, from the instruments' centre to how far
a full turn moves a sound. Instruments whose dots cluster apart from the others are instruments
the model tells apart; the arrows' lengths against the gaps say whether a knob reaches a
neighbour.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from synth.files import atomic_file
from synth.gm import family, family_name

SIZE = (1000, 760)
MARGIN = 70
# Sixteen GM families, sixteen colours far apart.
COLOURS = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
           (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (220, 190, 255),
           (170, 110, 40), (128, 0, 0), (128, 128, 0), (0, 0, 128)]


def draw_timbre_map(points: dict, path: Path, title: str) -> Path:
    """Write the map of ``points`` (``PaletteReport.map_points``) to ``path`` as a PNG, atomically."""
    from PIL import Image, ImageDraw

    notes = np.asarray(points["notes"], np.float64).reshape(-1, 2)
    instruments = np.asarray(points["instruments"], np.float64).reshape(-1, 2)
    spreads = list(points["spreads"]) + [0.0, 0.0]
    everything = np.concatenate([notes, instruments, [[spreads[0], 0], [0, spreads[1]], [0, 0]]])
    low, high = everything.min(axis=0), everything.max(axis=0)
    span = np.maximum(high - low, 1e-6)

    def place(xy: np.ndarray) -> tuple[float, float]:
        x = MARGIN + (xy[0] - low[0]) / span[0] * (SIZE[0] - 2 * MARGIN)
        y = SIZE[1] - MARGIN - (xy[1] - low[1]) / span[1] * (SIZE[1] - 2 * MARGIN)
        return float(x), float(y)

    image = Image.new("RGB", SIZE, "white")
    pen = ImageDraw.Draw(image)
    pen.text((MARGIN, 20), title, fill="black")
    pen.text((MARGIN, SIZE[1] - 40), "horizontal: knob 1   vertical: knob 2   dots: held-out real notes, "
             "encoded   names: the instruments' presets", fill="gray")
    for xy, program in zip(notes, points["note_programs"]):
        x, y = place(xy)
        pen.ellipse((x - 2, y - 2, x + 2, y + 2), fill=COLOURS[family(int(program)) % len(COLOURS)])
    origin = place(np.zeros(2))
    for k, end in enumerate(([spreads[0], 0.0], [0.0, spreads[1]])):
        tip = place(np.asarray(end))
        pen.line((origin, tip), fill="black", width=2)
        pen.ellipse((tip[0] - 4, tip[1] - 4, tip[0] + 4, tip[1] + 4), outline="black", width=2)
        pen.text((tip[0] + 6, tip[1] - 12), f"knob {k + 1}", fill="black")
    for xy, name, program in zip(instruments, points["names"], points["programs"]):
        x, y = place(xy)
        colour = COLOURS[family(int(program)) % len(COLOURS)]
        pen.rectangle((x - 5, y - 5, x + 5, y + 5), fill=colour, outline="black")
        pen.text((x + 8, y - 6), f"{name} ({family_name(int(program))})", fill="black")
    with atomic_file(Path(path)) as tmp:
        image.save(tmp, format="PNG")
    return Path(path)
