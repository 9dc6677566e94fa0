"""The phone sets: phones-dev split into a tuning part and a held-out part, read in place from
the shared data (never committed), plus registry photos with phones and phone-like negatives."""

from __future__ import annotations

import json
from collections import defaultdict

import cv2
import numpy as np
import pytest

from kuzet_tools.models import phone_sets
from kuzet_tools.models.evalset import EvalSetError, cache_dir, load_eval_set, read_image
from kuzet_tools.models.evaluate import ClassCounts, match
from kuzet_tools.models.phone_sets import (
    LABELS,
    PHONE,
    SPLIT_PATH,
    at_seat_distance,
    classroom_frame,
    group_key,
    load_phone_sets,
    phones_dev_dir,
    phones_dev_records,
    seat_view,
    split_phones_dev,
)

needs_phones_dev = pytest.mark.skipif(
    not (phones_dev_dir() / "labels.json").is_file(),
    reason=f"the shared phones-dev photos are not at {phones_dev_dir()} (set KUZET_PHONES_DEV)")


@pytest.fixture(scope="module")
def split() -> dict:
    return json.loads(SPLIT_PATH.read_text())


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return phones_dev_records()


@needs_phones_dev
def test_the_split_is_disjoint_and_covers_every_photo(split, records):
    tune, measure = set(split["tune"]), set(split["measure"])
    assert not tune & measure
    assert tune | measure == {r["file"] for r in records}
    assert split["counts"]["photos"] == {"tune": len(tune), "measure": len(measure)}


@needs_phones_dev
def test_the_committed_split_is_what_the_rule_gives(split, records):
    assert split_phones_dev(records) == split


@needs_phones_dev
def test_frames_of_one_recording_land_in_one_part(split, records):
    part_of = {f: p for p in ("tune", "measure") for f in split[p]}
    parts_by_group = defaultdict(set)
    for r in records:
        parts_by_group[group_key(r["source"])].add(part_of[r["file"]])
    assert all(len(parts) == 1 for parts in parts_by_group.values())
    clip = [r for r in records if "cell02_" in r["source"] or "cell05_" in r["source"]]
    assert len(clip) > 10 and len({part_of[r["file"]] for r in clip}) == 1


@needs_phones_dev
def test_each_source_set_is_split_about_55_to_45(split):
    for source, have in split["counts"]["by_source"].items():
        share = have["tune"] / (have["tune"] + have["measure"])
        assert 0.5 <= share <= 0.6, (source, have)


@needs_phones_dev
def test_phones_dev_photos_load_with_their_phones_as_cell_phone(split):
    sets = load_phone_sets(("tune", "measure"))
    assert [len(sets["tune"]), len(sets["measure"])] == [len(split["tune"]),
                                                          len(split["measure"])]
    phones = sum(len(i.objects) for i in sets["tune"] + sets["measure"])
    assert phones == 455
    image = sets["measure"][0]
    assert image.path.is_file() and image.path.parent == phones_dev_dir() / "images"
    assert {o["label"] for o in image.objects} == {PHONE}
    counts = defaultdict(ClassCounts)
    box = tuple(image.objects[0]["box"])
    match([(PHONE, 0.9, box), (PHONE, 0.8, (0, 0, 5, 5))], image.objects, image.ignore, 0.5,
          counts)
    assert (counts[PHONE].tp, counts[PHONE].fp) == (1, 1)


def test_an_unknown_part_is_refused():
    with pytest.raises(ValueError, match="unknown phone set part"):
        load_phone_sets(("train",))


def test_phones_dev_is_found_beside_the_repo_or_where_the_environment_says(monkeypatch,
                                                                           tmp_path):
    monkeypatch.delenv("KUZET_PHONES_DEV", raising=False)
    assert phones_dev_dir() == phone_sets.shared_data_dir() / "phones-dev"
    monkeypatch.setenv("KUZET_PHONES_DEV", str(tmp_path))
    assert phones_dev_dir() == tmp_path
    with pytest.raises(EvalSetError, match="KUZET_PHONES_DEV"):
        phones_dev_records()


# ---- registry photos with phones (npm pack) -------------------------------------------------

@pytest.fixture(scope="module")
def registry() -> list:
    try:
        return load_phone_sets(("registry",))["registry"]
    except EvalSetError as exc:
        pytest.fail(f"the registry phone photos could not be obtained: {exc}")


def test_registry_photos_come_from_npm_with_their_phones_inside_the_frame(registry):
    assert {i.source["kind"] for i in registry} == {"npm"}
    phones = [(i, o["box"]) for i in registry for o in i.objects if o["label"] == PHONE]
    assert len(phones) == 6
    for image, (x1, y1, x2, y2) in phones:
        h, w = read_image(image).shape[:2]
        assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h, image.id
    assert all("MIT" in i.source["licence"] for i in registry)


def test_an_npm_member_whose_sha256_changed_is_refused(registry, tmp_path):
    item = json.loads(LABELS["registry"].read_text())["images"][0]
    item = {**item, "id": "npm-changed", "sha256": "0" * 64}
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"images": [item]}))
    with pytest.raises(EvalSetError, match="expected 0000"):
        load_eval_set(labels, cache_dir())


# ---- seat distance ----------------------------------------------------------------------------

@needs_phones_dev
def test_a_photo_at_seat_distance_is_shrunk_onto_the_classroom_with_its_boxes(split):
    image = load_phone_sets(("measure",))["measure"][0]
    pixels = read_image(image)
    frame, boxes = at_seat_distance(pixels, {PHONE: [o["box"] for o in image.objects]})
    assert frame.shape == (720, 1280, 3)
    assert frame[:200].tolist() == classroom_frame()[:200].tolist()   # the room, untouched
    x1, y1, x2, y2 = image.objects[0]["box"]
    fx1, fy1, fx2, fy2 = boxes[PHONE][0]
    assert fx2 - fx1 == pytest.approx((x2 - x1) * 0.35, abs=0.2)
    assert fy2 - fy1 == pytest.approx((y2 - y1) * 0.35, abs=0.2)
    shrunk = cv2.resize(pixels, (224, 224), interpolation=cv2.INTER_AREA)
    left, top = round(fx1 - x1 * 0.35), round(fy1 - y1 * 0.35)
    assert np.array_equal(frame[top:top + 224, left:left + 224], shrunk)


@needs_phones_dev
def test_a_seat_view_labels_the_classroom_students_the_photo_leaves_whole(split):
    image = load_phone_sets(("measure",))["measure"][0]
    frame, seat = seat_view(image, read_image(image))
    persons = [o["box"] for o in seat.objects if o["label"] == "person"]
    assert len(persons) == 4 and len(seat.faces) == 4     # a 640x640 photo covers nobody
    assert [o for o in seat.objects if o["label"] == PHONE] != []
    assert seat.id == f"{image.id}@seat" and frame.shape == (720, 1280, 3)


def test_a_photo_too_big_for_the_frame_is_shrunk_further_to_fit():
    photo = np.full((4000, 4000, 3), 200, np.uint8)
    frame, boxes = at_seat_distance(photo, {"book": [[0, 0, 4000, 4000]]},
                                    background=np.zeros((10, 10, 3), np.uint8))
    x1, y1, x2, y2 = boxes["book"][0]
    assert (x2 - x1, y2 - y1) == (720, 720) and y1 == 0
    assert frame[0, int(x1)].tolist() == [200, 200, 200] and frame[0, 0].tolist() == [0, 0, 0]


# ---- phone-like negatives -------------------------------------------------------------------

NEGATIVE_LABELS = {"camera", "lighter", "card", "wallet"}


def test_negatives_are_phone_like_objects_with_no_phone_and_a_recorded_licence():
    try:
        negatives = load_phone_sets(("negatives",))["negatives"]
    except EvalSetError as exc:
        pytest.fail(f"the phone-like negatives could not be obtained: {exc}")
    labels = [o["label"] for i in negatives for o in i.objects]
    assert PHONE not in labels
    assert {lab for lab in labels if lab != "person"} <= NEGATIVE_LABELS
    for image in negatives:
        assert image.source["licence"]
        h, w = read_image(image).shape[:2]
        for o in image.objects:
            x1, y1, x2, y2 = o["box"]
            assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h, image.id


def test_a_clone_of_a_local_checkout_finds_the_shared_data_beside_its_origin(tmp_path):
    import subprocess

    (tmp_path / "shared" / "data").mkdir(parents=True)
    origin = tmp_path / "main"
    subprocess.run(["git", "init", "-q", str(origin)], check=True)
    subprocess.run(["git", "-C", str(origin), "-c", "user.name=t", "-c", "user.email=t@t",
                    "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    clone = elsewhere / "fresh"
    subprocess.run(["git", "clone", "-q", str(origin), str(clone)], check=True)
    assert phone_sets.shared_data_dir(origin) == tmp_path / "shared" / "data"   # beside it
    assert phone_sets.shared_data_dir(clone) == tmp_path / "shared" / "data"    # its origin's
    lonely = tmp_path / "lonely"
    subprocess.run(["git", "init", "-q", str(lonely)], check=True)
    assert phone_sets.shared_data_dir(lonely) == tmp_path / "shared" / "data"  # beside, again
    alone = elsewhere / "alone"
    subprocess.run(["git", "init", "-q", str(alone)], check=True)
    assert phone_sets.shared_data_dir(alone) == elsewhere / "shared" / "data"  # nothing found
