"""facerec.compat.face_recognition: face_recognition 1.3's calls, types and conventions."""
import io

import numpy as np
import pytest

import facerec
import facerec.compat.face_recognition as face_recognition

LARGE_KEYS = {"chin": 17, "left_eyebrow": 5, "right_eyebrow": 5, "nose_bridge": 4,
              "nose_tip": 5, "left_eye": 6, "right_eye": 6, "top_lip": 12, "bottom_lip": 12}


@pytest.fixture(scope="module")
def sample1(demo):
    return face_recognition.load_image_file(demo("sample1"))


def test_load_image_file(demo, sample1):
    assert sample1.shape == (1280, 1920, 3) and sample1.dtype == np.uint8
    with open(demo("sample1"), "rb") as f:
        assert np.array_equal(face_recognition.load_image_file(f), sample1)
    grey = face_recognition.load_image_file(demo("sample1"), mode="L")
    assert grey.shape == (1280, 1920) and grey.dtype == np.uint8
    r, g, b = (int(v) for v in sample1[500, 700])
    assert abs(int(grey[500, 700]) - (0.299 * r + 0.587 * g + 0.114 * b)) <= 1
    with pytest.raises(ValueError):
        face_recognition.load_image_file(demo("sample1"), mode="CMYK")


def test_face_locations_are_css_int_tuples(sample1):
    locations = face_recognition.face_locations(sample1)
    assert len(locations) == 3
    h, w = sample1.shape[:2]
    for loc in locations:
        assert isinstance(loc, tuple) and len(loc) == 4
        assert all(type(v) is int for v in loc)
        top, right, bottom, left = loc
        assert 0 <= top < bottom <= h and 0 <= left < right <= w
    # the same faces as facerec's own API, in (top, right, bottom, left)
    engine_faces = facerec.Engine.shared(detector="mtcnn", model="dlib-resnet", raw=True,
                                         flip=False).detect(sample1)
    for loc, f in zip(locations, engine_faces):
        assert loc == (round(f.y), round(f.x + f.w), round(f.y + f.h), round(f.x))
    # hog and cnn both map to MTCNN; one upsampling is the image as it is
    assert face_recognition.face_locations(sample1, model="cnn") == locations
    assert face_recognition.face_locations(sample1, 0) == locations


def test_boxes_are_clipped_to_the_image(sample1):
    # a face cut by the image border: face_recognition clips boxes to the image
    h, w = sample1.shape[:2]
    top, right, bottom, left = face_recognition.face_locations(sample1)[0]
    part = sample1[top + (bottom - top) // 4:, left + (right - left) // 3:]
    for t, r, b, l in face_recognition.face_locations(part):
        assert 0 <= t and 0 <= l and b <= part.shape[0] and r <= part.shape[1]


def test_upsampling_finds_the_same_faces_in_the_same_coordinates(sample1):
    small = sample1[::4, ::4].copy()  # 480x320: faces of about 45 px
    once = face_recognition.face_locations(small, 1)
    twice = face_recognition.face_locations(small, 2)
    assert len(twice) >= len(once) >= 1
    for loc in once:  # each face found at 2x lands where it was (within a few pixels)
        assert min(max(abs(a - b) for a, b in zip(loc, other)) for other in twice) <= 6
    with pytest.raises(ValueError):
        face_recognition.face_locations(small, -1)
    with pytest.raises(ValueError):
        face_recognition.face_locations(small, model="bogus")


def test_batch_face_locations(sample1):
    images = [sample1, sample1[:600, :900].copy()]
    batch = face_recognition.batch_face_locations(images, 1, batch_size=2)
    assert batch == [face_recognition.face_locations(img, 1, "cnn") for img in images]
    with pytest.raises(ValueError):
        face_recognition.batch_face_locations(images, batch_size=0)


def test_face_landmarks_large_and_small(sample1):
    locations = face_recognition.face_locations(sample1)
    large = face_recognition.face_landmarks(sample1)
    assert len(large) == len(locations)
    for marks, (top, right, bottom, left) in zip(large, locations):
        assert {k: len(v) for k, v in marks.items()} == LARGE_KEYS
        for points in marks.values():
            assert all(isinstance(p, tuple) and len(p) == 2 and all(type(c) is int for c in p)
                       for p in points)
        # image-left eye left of the image-right eye, both above the lips, in the box
        assert np.mean([p[0] for p in marks["left_eye"]]) < np.mean([p[0] for p in marks["right_eye"]])
        assert max(p[1] for p in marks["left_eye"]) < min(p[1] for p in marks["top_lip"])
        for x, y in marks["nose_tip"]:
            assert left <= x <= right and top <= y <= bottom
        # dlib's lip outlines: top 48..54 then 64..60, bottom 54..59, 48, then 60, 67..64
        assert marks["top_lip"][0] == marks["bottom_lip"][6] and marks["top_lip"][6] == marks["bottom_lip"][0]
    small = face_recognition.face_landmarks(sample1, model="small")
    for s, l in zip(small, large):
        assert {k: len(v) for k, v in s.items()} == {"nose_tip": 1, "left_eye": 2, "right_eye": 2}
        assert s["left_eye"] == [l["left_eye"][0], l["left_eye"][3]]
        assert s["right_eye"] == [l["right_eye"][3], l["right_eye"][0]]
        assert s["nose_tip"] == [l["nose_tip"][2]]
    with pytest.raises(ValueError):
        face_recognition.face_landmarks(sample1, model="medium")


def test_face_landmarks_on_given_locations(sample1):
    locations = face_recognition.face_locations(sample1)
    assert face_recognition.face_landmarks(sample1, locations[1:2]) == \
        face_recognition.face_landmarks(sample1)[1:2]
    assert face_recognition.face_landmarks(sample1, []) == []
    with pytest.raises(ValueError):
        face_recognition.face_landmarks(sample1, [(10, 5, 10, 20)])


def test_face_encodings_are_dlib_scale_float64(sample1):
    encodings = face_recognition.face_encodings(sample1)
    assert len(encodings) == 3
    for e in encodings:
        assert isinstance(e, np.ndarray) and e.shape == (128,) and e.dtype == np.float64
        assert 1.2 < np.linalg.norm(e) < 1.8  # dlib's scale, not unit length
    # three different people: farther apart than the tolerance
    d = [face_recognition.face_distance([a], b)[0] for i, a in enumerate(encodings)
         for b in encodings[i + 1:]]
    assert min(d) > 0.6
    assert face_recognition.face_encodings(np.zeros((100, 100, 3), np.uint8)) == []


def test_face_encodings_options(sample1):
    small = face_recognition.face_encodings(sample1)
    locations = face_recognition.face_locations(sample1)
    for other in (face_recognition.face_encodings(sample1, model="large"),
                  face_recognition.face_encodings(sample1, locations),
                  face_recognition.face_encodings(sample1, num_jitters=3)):
        assert len(other) == 3
        for a, b in zip(small, other):  # the same faces, each nearest its own
            assert 0 < np.linalg.norm(a - b) < 0.3
    one = face_recognition.face_encodings(sample1, locations[2:3])
    assert len(one) == 1 and np.argmin(face_recognition.face_distance(small, one[0])) == 2
    with pytest.raises(ValueError):
        face_recognition.face_encodings(sample1, num_jitters=0)
    with pytest.raises(ValueError):
        face_recognition.face_encodings(sample1, model="huge")
    # facerec's own models: unit vectors, with their own tolerance
    ours = face_recognition.face_encodings(sample1, model="mobilefacenet")
    assert [abs(np.linalg.norm(e) - 1) < 1e-4 for e in ours] == [True] * 3
    assert face_recognition.facerec_tolerance("mobilefacenet") == pytest.approx(1.0)
    assert face_recognition.facerec_tolerance("small") == 0.6


def test_encodings_are_near_face_api_js_descriptors_of_upright_faces(demo, faceapi_fixture):
    """face-api.js runs the same network on its own (unrotated) crop: on the upright faces of
    sample3 our encodings lie much nearer its descriptors than another person's do
    (python/faceapi_closeness.py prints every face)."""
    fixture = faceapi_fixture("sample3")
    golden = np.array(fixture["descriptors"])
    img = face_recognition.load_image_file(demo("sample3"))
    ours = face_recognition.face_encodings(img)
    assert len(ours) == 3
    for g in golden:
        d = np.sort(face_recognition.face_distance(ours, g))
        assert d[0] < 0.25 and d[1] > 0.5


def test_face_distance_and_compare_faces():
    known = [np.zeros(128), np.full(128, 0.05), np.full(128, 0.1)]
    probe = np.zeros(128)
    d = face_recognition.face_distance(known, probe)
    assert d.shape == (3,) and np.allclose(d, [0, 0.05 * np.sqrt(128), 0.1 * np.sqrt(128)])
    assert face_recognition.compare_faces(known, probe) == [True, True, False]
    assert face_recognition.compare_faces(known, probe, tolerance=0.3) == [True, False, False]
    assert face_recognition.face_distance([], probe).shape == (0,)
    assert face_recognition.compare_faces([], probe) == []


def test_same_and_different_people_on_lfw(lfw):
    """tolerance=0.6 separates these pairs as it does with dlib."""
    def enc(person, i):
        (e,) = face_recognition.face_encodings(face_recognition.load_image_file(lfw(person, i)))
        return e
    same = [("George_W_Bush", 1, 2), ("Colin_Powell", 1, 2), ("Tony_Blair", 1, 3)]
    for person, i, j in same:
        assert face_recognition.compare_faces([enc(person, i)], enc(person, j)) == [True]
    assert face_recognition.compare_faces([enc("George_W_Bush", 1), enc("Colin_Powell", 1)],
                                          enc("Tony_Blair", 1)) == [False, False]


def test_wrong_input_types():
    with pytest.raises(TypeError):
        face_recognition.face_locations(np.zeros((10, 10, 3), np.float64))
    with pytest.raises(facerec.FacerecError):
        face_recognition.load_image_file(io.BytesIO(b"not an image"))
