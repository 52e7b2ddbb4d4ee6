"""The bird generator (seeded, CUB-200-2011 layout, JPEG, species told apart by plumage) and the loaders
for the real CUB-200-2011 and NABirds layouts, on small hand-made folders."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from workshop.datasets import birds
from workshop.target import ROOT


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    return birds.generate(tmp_path_factory.mktemp("birds"), images_per_species=4, seed=3)


def test_the_generator_writes_the_cub_layout_with_jpeg_photos_and_boxes_inside_them(generated):
    dataset = birds.load_cub(generated)
    assert dataset.classes == birds.SPECIES
    assert (generated / "classes.txt").read_text().splitlines()[2] == "3 003.Northern_Cardinal"
    assert len(dataset.images) == 16
    assert [sum(i.label == label for i in dataset.images) for label in range(4)] == [4, 4, 4, 4]
    assert sum(i.is_training for i in dataset.images) == 12
    for image in dataset.images:
        assert image.path.read_bytes()[:3] == b"\xff\xd8\xff"
        with Image.open(image.path) as photo:
            assert photo.format == "JPEG"
            x, y, width, height = image.box
            assert 0 <= x and 0 <= y and width > 10 and height > 10
            assert x + width <= photo.width and y + height <= photo.height
    first = dataset.images[0]
    assert first.path == generated / "images/001.American_Goldfinch/American_Goldfinch_0001.jpg"


def test_the_same_seed_writes_the_same_files_and_another_seed_others(generated, tmp_path):
    again = birds.generate(tmp_path / "again", images_per_species=4, seed=3)
    other = birds.generate(tmp_path / "other", images_per_species=4, seed=4)
    relative = "images/003.Northern_Cardinal/Northern_Cardinal_0002.jpg"
    assert (again / relative).read_bytes() == (generated / relative).read_bytes()
    assert (again / "bounding_boxes.txt").read_text() == (generated / "bounding_boxes.txt").read_text()
    assert (other / relative).read_bytes() != (generated / relative).read_bytes()


def bird_colour(species: str, pose: str = "perched") -> np.ndarray:
    """Mean colour of a bird's own pixels, drawn alone."""
    layer, _ = birds.draw_bird(species, np.random.default_rng(0), 200, pose, 0, facing_left=False)
    pixels = np.asarray(layer, dtype=float)
    return pixels[pixels[..., 3] > 127][:, :3].mean(axis=0)


def test_each_species_wears_its_plumage():
    red, green, blue = bird_colour("Northern Cardinal")
    assert red > 120 and red > 2.5 * green and red > 2.5 * blue
    red, green, blue = bird_colour("American Goldfinch")
    assert red > 100 and green > 80 and blue < 0.5 * green  # yellow, with black wings
    red, green, blue = bird_colour("Eastern Bluebird")
    assert blue > red and blue > green
    assert bird_colour("Purple Martin").mean() < 80 and bird_colour("Purple Martin")[2] > bird_colour("Purple Martin")[1]
    for species in birds.SPECIES:  # a raised wing changes the outline, not the colours
        assert np.abs(bird_colour(species, "flying") - bird_colour(species)).max() < 60


def test_unknown_species_cannot_be_drawn(tmp_path):
    with pytest.raises(ValueError, match="No plumage for \\['Dodo'\\]"):
        birds.generate(tmp_path, species=["Dodo"])


def write(folder, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).write_text(text)


@pytest.fixture
def cub(tmp_path):
    """Three CUB-200-2011 classes and five photos, as the real files spell them."""
    for path in ("017.Cardinal/Cardinal_0001_17057.jpg", "017.Cardinal/Cardinal_0002_19162.jpg",
                 "047.American_Goldfinch/American_Goldfinch_0004_32235.jpg",
                 "047.American_Goldfinch/American_Goldfinch_0010_32505.jpg",
                 "001.Black_footed_Albatross/Black_Footed_Albatross_0046_18.jpg"):
        (tmp_path / "images" / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "images" / path).write_bytes(b"\xff\xd8\xff")
    write(tmp_path, {
        "classes.txt": "1 001.Black_footed_Albatross\n17 017.Cardinal\n47 047.American_Goldfinch\n",
        "images.txt": "1 001.Black_footed_Albatross/Black_Footed_Albatross_0046_18.jpg\n"
                      "952 017.Cardinal/Cardinal_0001_17057.jpg\n953 017.Cardinal/Cardinal_0002_19162.jpg\n"
                      "2700 047.American_Goldfinch/American_Goldfinch_0004_32235.jpg\n"
                      "2701 047.American_Goldfinch/American_Goldfinch_0010_32505.jpg\n",
        "image_class_labels.txt": "1 1\n952 17\n953 17\n2700 47\n2701 47\n",
        "train_test_split.txt": "1 0\n952 1\n953 0\n2700 1\n2701 1\n",
        "bounding_boxes.txt": "1 60.0 27.0 325.0 304.0\n952 81.0 52.0 295.0 251.0\n953 3.0 66.0 367.0 223.0\n"
                              "2700 125.0 38.0 239.0 336.0\n2701 77.0 58.0 301.0 263.0\n",
    })
    return tmp_path


def test_cub_species_are_picked_by_name_and_labelled_in_the_order_asked(cub):
    dataset = birds.load_cub(cub, ["american_goldfinch", "Cardinal"])
    assert dataset.classes == ("american_goldfinch", "Cardinal")
    by_id = {image.image_id: image for image in dataset.images}
    assert sorted(by_id) == ["2700", "2701", "952", "953"]
    assert by_id["952"].label == 1 and by_id["2700"].label == 0
    assert by_id["952"].path == cub / "images/017.Cardinal/Cardinal_0001_17057.jpg"
    assert by_id["953"].box == (3.0, 66.0, 367.0, 223.0)
    assert [by_id[i].is_training for i in ("952", "953")] == [True, False]
    assert birds.load_cub(cub).classes == ("Black footed Albatross", "Cardinal", "American Goldfinch")


def test_a_species_cub_lacks_gets_an_error_with_the_names_it_has(cub):
    with pytest.raises(ValueError, match="No class named 'Northern Cardinal'.*'Cardinal'"):
        birds.load_cub(cub, ["Northern Cardinal"])
    with pytest.raises(FileNotFoundError, match="classes.txt"):
        birds.load_cub(cub / "images")


@pytest.fixture
def nabirds(tmp_path):
    """NABirds: species split by sex and age under a species node, ids as UUIDs, integer boxes."""
    ids = {"cardinal_male": "0000139e-21dc-4d0c-bfe1-4cae3c85c4ce", "cardinal_female": "0a1b2c3d-0000-4000-8000-000000000001",
           "martin": "0a1b2c3d-0000-4000-8000-000000000002", "sparrow": "0a1b2c3d-0000-4000-8000-000000000003"}
    folders = {"cardinal_male": "0817", "cardinal_female": "0818", "martin": "0950", "sparrow": "0400"}
    for name, image_id in ids.items():
        folder = tmp_path / "images" / folders[name]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{image_id.replace('-', '')}.jpg").write_bytes(b"\xff\xd8\xff")
    write(tmp_path, {
        "classes.txt": "0 Birds\n400 House Sparrow\n700 Northern Cardinal\n817 Northern Cardinal (Adult Male)\n"
                       "818 Northern Cardinal (Female/Juvenile)\n950 Purple Martin (Adult male)\n",
        "hierarchy.txt": "400 0\n700 0\n817 700\n818 700\n950 0\n",
        "images.txt": "".join(f"{ids[n]} {folders[n]}/{ids[n].replace('-', '')}.jpg\n" for n in ids),
        "image_class_labels.txt": "".join(f"{ids[n]} {int(folders[n])}\n" for n in ids),
        "train_test_split.txt": "".join(f"{ids[n]} {int(n != 'martin')}\n" for n in ids),
        "bounding_boxes.txt": "".join(f"{ids[n]} 83 59 128 228\n" for n in ids),
    })
    return tmp_path, ids


def test_nabirds_species_take_every_sex_and_age_class_under_them(nabirds):
    root, ids = nabirds
    dataset = birds.load_nabirds(root, ["Purple Martin", "northern cardinal"])
    labels = {image.image_id: image.label for image in dataset.images}
    assert labels == {ids["cardinal_male"]: 1, ids["cardinal_female"]: 1, ids["martin"]: 0}
    martin = next(i for i in dataset.images if i.label == 0)
    assert martin.species == "Purple Martin" and not martin.is_training and martin.box == (83.0, 59.0, 128.0, 228.0)
    assert martin.path == root / "images/0950" / f"{ids['martin'].replace('-', '')}.jpg"


def test_nabirds_without_the_species_says_so(nabirds):
    with pytest.raises(ValueError, match="No class named 'Eastern Bluebird'"):
        birds.load_nabirds(nabirds[0], ["Eastern Bluebird"])


def test_the_breakglass_stack_names_the_classes_in_the_notebooks_label_order():
    template = (ROOT / "cloudformation/breakglass/04_birds.yml").read_text()
    assert f"Default: {','.join(birds.SPECIES)}\n" in template
