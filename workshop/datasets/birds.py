"""Bird photographs: a seeded stand-in for the four NABirds species of the source workshop, and
loaders for the real CUB-200-2011 and NABirds data sets.

    from workshop.datasets import birds
    birds.generate("/tmp/birds")                        # JPEG files in the CUB-200-2011 layout
    dataset = birds.load_cub("/tmp/birds")              # or birds.load_nabirds(root, birds.SPECIES)
    dataset.classes, dataset.images[0].box              # species names; (x, y, width, height)

The generator draws each species with its real (adult male) plumage: the Northern Cardinal red
with a crest and a black mask around a thick orange bill; the American Goldfinch lemon yellow with
a black cap, black wings with white bars and a pink conical bill; the Eastern Bluebird royal blue
above with a rusty throat and breast and a white belly; the Purple Martin glossy dark blue-purple
with long blackish wings and a forked tail. Pose (perched, foraging, flying), size, position,
facing, background (sky, foliage, bark, snow, dusk, with berries, flowers and twigs), light and
noise vary, and the bird often fills a small part of the frame, so cropping to its bounding box
matters. Photos are saved as JPEG at a varying quality, as cameras write them.

Both real data sets share a layout: ``images/`` and the text files ``classes.txt``
(``<class id> <name>``), ``images.txt`` (``<image id> <path under images/>``),
``image_class_labels.txt``, ``train_test_split.txt`` (``<image id> <1 if training>``) and
``bounding_boxes.txt`` (``<image id> <x> <y> <width> <height>`` in pixels). CUB-200-2011 names
classes ``017.Cardinal`` and folders alike; NABirds names them ``Northern Cardinal (Adult Male)``
with a ``hierarchy.txt`` of ``<child id> <parent id>``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from tqdm import tqdm

SPECIES = ("American Goldfinch", "Eastern Bluebird", "Northern Cardinal", "Purple Martin")
IMAGES_PER_SPECIES = 108  # 432 photos: 324 to train and 108 to validate, as the source's 322 and 107
TRAINING_FRACTION = 0.75
SUPERSAMPLE = 2  # the bird is drawn at twice the size and scaled down, for smooth edges
FRAME_SIZES = ((320, 240), (400, 300), (360, 270), (240, 320), (300, 300))

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Plumage:
    """The colours and marks that tell one species from the others."""

    back: RGB
    head: RGB
    breast: RGB
    belly: RGB
    wing: RGB
    tail: RGB
    bill: RGB
    bill_size: float  # 1 is a finch's conical bill
    wing_bars: RGB | None = None
    cap: RGB | None = None
    mask: RGB | None = None
    crest: bool = False
    forked_tail: bool = False
    long_wings: bool = False
    sheen: RGB | None = None


PLUMAGE = {
    "American Goldfinch": Plumage(back=(236, 196, 22), head=(250, 214, 30), breast=(252, 222, 40), belly=(248, 228, 96),
                                  wing=(24, 22, 20), tail=(30, 28, 26), bill=(236, 150, 112), bill_size=1.0,
                                  wing_bars=(246, 244, 236), cap=(14, 14, 14)),
    "Eastern Bluebird": Plumage(back=(42, 82, 190), head=(50, 92, 206), breast=(196, 104, 44), belly=(240, 236, 226),
                                wing=(38, 96, 214), tail=(36, 76, 180), bill=(44, 40, 40), bill_size=0.75),
    "Northern Cardinal": Plumage(back=(184, 24, 34), head=(214, 30, 40), breast=(222, 36, 44), belly=(204, 42, 52),
                                 wing=(156, 24, 30), tail=(146, 26, 34), bill=(240, 112, 70), bill_size=1.35,
                                 mask=(18, 14, 14), crest=True),
    "Purple Martin": Plumage(back=(48, 34, 98), head=(56, 38, 112), breast=(50, 35, 102), belly=(44, 32, 92),
                             wing=(28, 22, 44), tail=(30, 24, 48), bill=(20, 20, 22), bill_size=0.7,
                             forked_tail=True, long_wings=True, sheen=(112, 92, 196)),
}


@dataclass(frozen=True)
class BirdImage:
    """One photo: its file, species, label (index into the data set's classes) and the bird's box."""

    image_id: str
    path: Path
    species: str
    label: int
    box: tuple[float, float, float, float]  # x, y, width, height in pixels, as bounding_boxes.txt
    is_training: bool


@dataclass(frozen=True)
class BirdSet:
    classes: tuple[str, ...]
    images: tuple[BirdImage, ...]

    def split(self, training: bool) -> list[BirdImage]:
        return [image for image in self.images if image.is_training == training]


# -- drawing ------------------------------------------------------------------------------------

def _ellipse(cx: float, cy: float, rx: float, ry: float, start: float = 0, end: float = 360,
             tilt: float = 0, points: int = 36) -> np.ndarray:
    angles = np.radians(np.linspace(start, end, points))
    x, y = rx * np.cos(angles), ry * np.sin(angles)
    cos, sin = math.cos(math.radians(tilt)), math.sin(math.radians(tilt))
    return np.column_stack([cx + x * cos - y * sin, cy + x * sin + y * cos])


def _jitter(colour: RGB, rng: np.random.Generator, amount: float = 0.08) -> tuple[int, ...]:
    scale = 1 + rng.uniform(-amount, amount)
    return tuple(int(np.clip(c * scale + rng.normal(0, 5), 0, 255)) for c in colour)


def _bird_shapes(plumage: Plumage, pose: str, rng: np.random.Generator) -> list[tuple[np.ndarray, tuple, str]]:
    """The bird in its own frame (facing +x, y down, body 0.9 long): (points, colour, kind) in drawing
    order, where kind is ``fill`` (a polygon) or ``line`` (width 0.03)."""
    p = {name: _jitter(getattr(plumage, name), rng) for name in ("back", "head", "breast", "belly", "wing", "tail")}
    shapes = []
    add = lambda points, colour, kind="fill": shapes.append((np.asarray(points, dtype=float), colour, kind))  # noqa: E731
    darker = lambda colour, f=0.7: tuple(int(c * f) for c in colour)  # noqa: E731
    raised = pose == "flying"
    wing_shape = [(0.14, -0.13), (0.02, -0.46), (-0.22, -0.78), (-0.38, -0.72), (-0.3, -0.36), (-0.2, -0.1)]
    if plumage.long_wings:
        wing_shape = [(0.14, -0.13), (0.0, -0.5), (-0.3, -0.92), (-0.44, -0.86), (-0.3, -0.36), (-0.2, -0.1)]
    if raised:  # the far wing, behind the body
        add(np.asarray(wing_shape) * [0.85, 0.8] + [0.06, 0.02], darker(p["wing"], 0.6))
    if pose == "perched":
        for x in (0.03, -0.07):
            add([(x, 0.18), (x - 0.02, 0.36)], (70, 58, 50), "line")
    # tail
    if plumage.forked_tail:
        add([(-0.36, -0.06), (-0.98, -0.2), (-0.8, -0.02), (-0.98, 0.14), (-0.36, 0.07)], p["tail"])
    else:
        add([(-0.36, -0.07), (-0.86, -0.1), (-0.9, 0.02), (-0.86, 0.1), (-0.36, 0.07)], p["tail"])
    # body: back, then belly and breast over its lower half
    add(_ellipse(0, 0, 0.45, 0.25), p["back"])
    add(_ellipse(-0.1, 0.09, 0.3, 0.15, 0, 180), p["belly"])
    add(_ellipse(0.17, 0.02, 0.25, 0.2, -10, 200), p["breast"])
    if plumage.crest:
        add([(0.24, -0.3), (0.44, -0.35), (0.16, -0.52)], p["head"])
    add(_ellipse(0.36, -0.2, 0.16, 0.16), p["head"])
    if plumage.sheen:  # the martin's glossy head and back catch the light
        add(_ellipse(0.32, -0.28, 0.09, 0.04, tilt=-20), plumage.sheen)
        add(_ellipse(-0.02, -0.17, 0.2, 0.04, tilt=4), plumage.sheen)
    if plumage.cap:  # a circular segment of the head: the forehead and crown
        add(_ellipse(0.36, -0.2, 0.16, 0.16, -150, -35), plumage.cap)
    if plumage.mask:  # around the bill's base, the eye and the chin
        add([(0.47, -0.31), (0.54, -0.27), (0.55, -0.12), (0.47, -0.01), (0.36, -0.04), (0.37, -0.16), (0.4, -0.27)],
            plumage.mask)
    if plumage.breast != plumage.back and plumage.breast != plumage.head and not plumage.cap:
        add(_ellipse(0.38, -0.07, 0.11, 0.06, 0, 180), p["breast"])  # the bluebird's rusty throat
    # bill: conical finches' thick, the martin's and bluebird's small
    size, base = plumage.bill_size, (0.5, -0.2)
    add([(base[0] - 0.02, base[1] - 0.065 * size), (base[0] + 0.15 * size, base[1] + 0.01),
         (base[0] - 0.02, base[1] + 0.065 * size)], _jitter(plumage.bill, rng, 0.05))
    # eye, with a glint
    add(_ellipse(0.42, -0.23, 0.03, 0.03), (10, 10, 10))
    add(_ellipse(0.43, -0.24, 0.01, 0.01), (235, 235, 235))
    # near wing
    if raised:
        add(wing_shape, p["wing"])
        if plumage.wing_bars:
            add([(0.04, -0.3), (-0.2, -0.24)], plumage.wing_bars, "line")
            add([(-0.04, -0.45), (-0.26, -0.38)], plumage.wing_bars, "line")
    else:
        length = 0.5 if plumage.long_wings else 0.32
        centre = -0.2 if plumage.long_wings else -0.06
        add(_ellipse(centre, -0.04, length, 0.12, tilt=-6), p["wing"])
        add(_ellipse(centre - length * 0.75, -0.02, length * 0.28, 0.06, tilt=-6), darker(p["wing"]))  # primaries
        if plumage.wing_bars:
            add([(0.02, -0.12), (-0.06, 0.05)], plumage.wing_bars, "line")
            add([(-0.1, -0.12), (-0.18, 0.05)], plumage.wing_bars, "line")
    return shapes


def draw_bird(species: str, rng: np.random.Generator, length: float, pose: str, angle: float,
              facing_left: bool) -> tuple[Image.Image, tuple[float, float]]:
    """The bird alone on a transparent layer ``length`` pixels from tail to bill, and where its
    feet are on that layer (the branch goes there)."""
    scale = length / 1.6 * SUPERSAMPLE
    half = int(scale * 1.3) + 4
    layer = Image.new("RGBA", (2 * half, 2 * half), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    mirror = -1 if facing_left else 1

    def place(points: np.ndarray) -> list[tuple[float, float]]:
        x, y = points[:, 0] * mirror, points[:, 1]
        return list(zip((x * cos - y * sin) * scale + half, (x * sin + y * cos) * scale + half, strict=True))

    for points, colour, kind in _bird_shapes(PLUMAGE[species], pose, rng):
        if kind == "line":
            draw.line(place(points), fill=(*colour, 255), width=max(1, round(0.03 * scale)))
        else:
            draw.polygon(place(points), fill=(*colour, 255))
    feet = place(np.array([[-0.03, 0.36]]))[0]
    size = 2 * half // SUPERSAMPLE
    return layer.resize((size, size), Image.LANCZOS), (feet[0] / SUPERSAMPLE, feet[1] / SUPERSAMPLE)


def _smooth_noise(rng: np.random.Generator, width: int, height: int, cell: int) -> np.ndarray:
    coarse = rng.random((height // cell + 2, width // cell + 2)).astype(np.float32)
    image = Image.fromarray((coarse * 255).astype(np.uint8)).resize((width + 2 * cell, height + 2 * cell),
                                                                    Image.BICUBIC)
    return np.asarray(image, dtype=np.float32)[cell:cell + height, cell:cell + width] / 255


def _gradient(width: int, height: int, top: Sequence[float], bottom: Sequence[float]) -> np.ndarray:
    t = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    return np.broadcast_to(np.asarray(top, np.float32) * (1 - t) + np.asarray(bottom, np.float32) * t,
                           (height, width, 3)).copy()


BACKGROUNDS = ("sky", "foliage", "bark", "snow", "dusk")


def background(kind: str, width: int, height: int, rng: np.random.Generator) -> Image.Image:
    """A habitat: open sky, leaves, bark or earth, snow at a feeder, or a dusk sky."""
    if kind == "sky":
        top = (rng.uniform(60, 140), rng.uniform(120, 180), rng.uniform(200, 250))
        array = _gradient(width, height, top, (200, 220, 240))
        clouds = _smooth_noise(rng, width, height, 40)[..., None]
        array = array * (1 - 0.6 * np.clip(clouds - 0.45, 0, 1)) + 250 * 0.6 * np.clip(clouds - 0.45, 0, 1)
    elif kind == "foliage":
        base = np.array([rng.uniform(20, 60), rng.uniform(60, 110), rng.uniform(15, 45)], np.float32)
        array = base * (0.6 + 0.8 * _smooth_noise(rng, width, height, 24)[..., None])
    elif kind == "bark":
        base = np.array([rng.uniform(90, 140), rng.uniform(70, 100), rng.uniform(45, 70)], np.float32)
        streaks = _smooth_noise(rng, width, height, 6)[..., None] * _smooth_noise(rng, width, height, 30)[..., None]
        array = base * (0.5 + 1.0 * streaks)
    elif kind == "snow":
        array = _gradient(width, height, (200, 210, 225), (245, 245, 250)) * (
            0.9 + 0.1 * _smooth_noise(rng, width, height, 16)[..., None])
    else:
        array = _gradient(width, height, (rng.uniform(60, 110), rng.uniform(50, 90), rng.uniform(110, 160)),
                          (rng.uniform(220, 250), rng.uniform(120, 170), rng.uniform(60, 110)))
    image = Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    if kind in ("foliage", "bark", "snow") or rng.random() < 0.3:
        for _ in range(int(rng.integers(15, 60))):  # leaves
            x, y, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(4, 16)
            green = (int(rng.uniform(30, 120)), int(rng.uniform(90, 170)), int(rng.uniform(20, 70)))
            draw.polygon([tuple(p) for p in _ellipse(x, y, r, r * 0.45, tilt=rng.uniform(0, 180), points=12)],
                         fill=green)
    distractors = {"berries": (200, 30, 40), "flowers": (245, 210, 40), "blossoms": (90, 80, 200),
                   "rust leaves": (190, 100, 40)}
    for name, colour in distractors.items():  # colours the birds wear, away from the bird
        if rng.random() < 0.3:
            cx, cy = rng.uniform(0, width), rng.uniform(0, height)
            for _ in range(int(rng.integers(3, 12))):
                x, y = cx + rng.normal(0, 15), cy + rng.normal(0, 15)
                r = rng.uniform(2, 5) if name == "berries" else rng.uniform(4, 8)
                draw.ellipse((x - r, y - r, x + r, y + r), fill=_jitter(colour, rng))
    if kind != "sky":
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 2.5)))  # out of focus behind the bird
    return image


def _branch(draw: ImageDraw.ImageDraw, feet: tuple[float, float], width: int, rng: np.random.Generator,
            thickness: float) -> None:
    slope = math.tan(math.radians(rng.uniform(-15, 15)))
    colour = tuple(int(c) for c in rng.uniform([70, 50, 30], [120, 90, 60]))
    x0, x1 = rng.uniform(-20, feet[0] - 30), rng.uniform(feet[0] + 30, width + 20)
    y = lambda x: feet[1] + (x - feet[0]) * slope + thickness / 2  # noqa: E731
    draw.line([(x0, y(x0)), (x1, y(x1))], fill=colour, width=max(2, round(thickness)))
    for _ in range(int(rng.integers(0, 3))):
        x = rng.uniform(x0, x1)
        draw.line([(x, y(x)), (x + rng.uniform(-25, 25), y(x) - rng.uniform(10, 30))], fill=colour,
                  width=max(1, round(thickness / 2)))


def photograph(species: str, rng: np.random.Generator) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """One photo of a bird of ``species`` and its box (x, y, width, height), all random but seeded."""
    width, height = FRAME_SIZES[int(rng.integers(len(FRAME_SIZES)))]
    pose = str(rng.choice(["perched", "perched", "foraging", "flying"]))
    angle = {"perched": rng.uniform(-35, 5), "foraging": rng.uniform(5, 30), "flying": rng.uniform(-15, 15)}[pose]
    length = rng.uniform(0.25, 0.8) * min(width, height)
    bird, feet = draw_bird(species, rng, length, pose, angle, facing_left=bool(rng.random() < 0.5))
    ys, xs = np.nonzero(np.asarray(bird.getchannel("A")) > 127)
    left, top, right, bottom = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
    x = int(rng.integers(2, max(3, width - (right - left) - 1))) - left
    y = int(rng.integers(2, max(3, height - (bottom - top) - 1))) - top

    image = background(str(rng.choice(BACKGROUNDS)), width, height, rng).convert("RGBA")
    if pose == "perched":
        _branch(ImageDraw.Draw(image), (feet[0] + x, feet[1] + y), width, rng, length * rng.uniform(0.05, 0.09))
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    layer.paste(bird, (x, y), bird)
    image.alpha_composite(layer)
    x0, y0 = max(0, x + left), max(0, y + top)
    box = (x0, y0, min(width, x + right) - x0, min(height, y + bottom) - y0)
    if rng.random() < 0.25:  # a leaf in front of the bird
        draw = ImageDraw.Draw(image)
        r = rng.uniform(0.08, 0.18) * box[2]
        cx, cy = box[0] + rng.uniform(0, box[2]), box[1] + rng.uniform(0, box[3])
        green = (int(rng.uniform(30, 100)), int(rng.uniform(100, 160)), int(rng.uniform(20, 60)), 255)
        draw.polygon([tuple(p) for p in _ellipse(cx, cy, r, r * 0.45, tilt=rng.uniform(0, 180), points=12)],
                     fill=green)
    image = image.convert("RGB")
    if rng.random() < 0.3:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))  # focus or motion
    return _light_and_noise(image, rng), box


def _light_and_noise(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    array = np.asarray(image, dtype=np.float32)
    height, width, _ = array.shape
    direction = rng.uniform(0, 2 * math.pi)
    ramp = (np.cos(direction) * np.linspace(-1, 1, width)[None, :] + np.sin(direction) *
            np.linspace(-1, 1, height)[:, None])
    light = rng.uniform(0.6, 1.25) * (1 + rng.uniform(0, 0.25) * ramp)[..., None] * rng.uniform(0.9, 1.1, 3)
    array = array * light + rng.normal(0, rng.uniform(2, 10), array.shape)
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))


def _folder_name(class_id: int, species: str) -> str:
    return f"{class_id:03d}.{species.replace(' ', '_')}"


def generate(root: str | Path, images_per_species: int = IMAGES_PER_SPECIES, seed: int = 0,
             species: Sequence[str] = SPECIES) -> Path:
    """Write ``images_per_species`` JPEG photos of each species to ``root`` in the CUB-200-2011
    layout, 75% of each species marked for training. The same seed writes the same files."""
    unknown = sorted(set(species) - set(PLUMAGE))
    if unknown:
        raise ValueError(f"No plumage for {unknown}: the generator draws {list(PLUMAGE)}")
    root = Path(root)
    rng = np.random.default_rng(seed)
    classes, images, labels, splits, boxes = [], [], [], [], []
    image_id = 0
    with tqdm(total=images_per_species * len(species), desc="Drawing birds", unit="photo") as progress:
        for class_id, name in enumerate(species, start=1):
            folder = _folder_name(class_id, name)
            (root / "images" / folder).mkdir(parents=True, exist_ok=True)
            classes.append(f"{class_id} {folder}")
            training = set(rng.permutation(images_per_species)[:round(images_per_species * TRAINING_FRACTION)])
            for number in range(images_per_species):
                image_id += 1
                photo, box = photograph(name, rng)
                relative = f"{folder}/{name.replace(' ', '_')}_{number + 1:04d}.jpg"
                photo.save(root / "images" / relative, format="JPEG", quality=int(rng.integers(70, 96)))
                images.append(f"{image_id} {relative}")
                labels.append(f"{image_id} {class_id}")
                splits.append(f"{image_id} {int(number in training)}")
                boxes.append(f"{image_id} " + " ".join(f"{v:.1f}" for v in box))
                progress.update()
    for filename, lines in [("classes.txt", classes), ("images.txt", images), ("image_class_labels.txt", labels),
                            ("train_test_split.txt", splits), ("bounding_boxes.txt", boxes)]:
        (root / filename).write_text("\n".join(lines) + "\n")
    return root


# -- loading the public layouts -----------------------------------------------------------------

def _table(root: Path, filename: str) -> dict[str, str]:
    """``<id> <rest of the line>`` rows of one of the data set's text files."""
    path = root / filename
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: is {root} a CUB-200-2011 or NABirds folder (with images/ and "
                                f"{filename})?")
    rows = {}
    for line in path.read_text().splitlines():
        if line.strip():
            key, _, rest = line.strip().partition(" ")
            rows[key] = rest.strip()
    return rows


def _normalise(name: str) -> str:
    return " ".join(re.sub(r"[_\s]+", " ", name).split()).casefold()


def _missing(requested: str, names: Sequence[str]) -> ValueError:
    words = set(_normalise(requested).split())
    close = sorted({n for n in names if words & set(_normalise(n).split())})[:8]
    hint = f"; names with a word in common: {close}" if close else ""
    return ValueError(f"No class named {requested!r} in this data set{hint}")


def _images(root: Path, chosen: dict[str, int], classes: tuple[str, ...]) -> BirdSet:
    paths, labels = _table(root, "images.txt"), _table(root, "image_class_labels.txt")
    splits, boxes = _table(root, "train_test_split.txt"), _table(root, "bounding_boxes.txt")
    images = []
    for image_id, class_id in labels.items():
        if class_id not in chosen:
            continue
        label = chosen[class_id]
        x, y, w, h = (float(v) for v in boxes[image_id].split())
        images.append(BirdImage(image_id, root / "images" / paths[image_id], classes[label], label, (x, y, w, h),
                                splits[image_id] == "1"))
    return BirdSet(classes, tuple(images))


def load_cub(root: str | Path, species: Sequence[str] | None = None) -> BirdSet:
    """The CUB-200-2011 data set at ``root`` (or one ``generate`` wrote), limited to ``species``
    (names as CUB spells them, case, spaces and underscores aside: ``"Cardinal"``,
    ``"American Goldfinch"``), labelled in that order; all classes, in class-id order, by default."""
    root = Path(root)
    names = {class_id: _normalise(folder.split(".", 1)[-1]) for class_id, folder in _table(root, "classes.txt").items()}
    display = {class_id: folder.split(".", 1)[-1].replace("_", " ") for class_id, folder in
               _table(root, "classes.txt").items()}
    if species is None:
        order = sorted(names, key=int)
        return _images(root, {c: i for i, c in enumerate(order)}, tuple(display[c] for c in order))
    chosen = {}
    for label, requested in enumerate(species):
        ids = [class_id for class_id, name in names.items() if name == _normalise(requested)]
        if not ids:
            raise _missing(requested, list(display.values()))
        chosen.update(dict.fromkeys(ids, label))
    return _images(root, chosen, tuple(species))


def load_nabirds(root: str | Path, species: Sequence[str]) -> BirdSet:
    """The NABirds data set at ``root``, limited to ``species`` and labelled in that order. NABirds
    splits many species by sex and age (``Northern Cardinal (Adult Male)``, ``... (Female/Juvenile)``):
    a species takes every class named after it, and every class under those in ``hierarchy.txt``."""
    root = Path(root)
    names = _table(root, "classes.txt")
    hierarchy_path = root / "hierarchy.txt"
    children: dict[str, list[str]] = {}
    if hierarchy_path.exists():
        for child, parent in _table(root, "hierarchy.txt").items():
            children.setdefault(parent, []).append(child)
    chosen: dict[str, int] = {}
    for label, requested in enumerate(species):
        wanted = _normalise(requested)
        ids = [c for c, name in names.items() if _normalise(name) == wanted or _normalise(name).startswith(wanted + " (")]
        if not ids:
            raise _missing(requested, list(names.values()))
        while ids:
            class_id = ids.pop()
            chosen[class_id] = label
            ids.extend(children.get(class_id, []))
    return _images(root, chosen, tuple(species))
