"""facerec's own API: images, Engine, Gallery, errors."""
import io
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import facerec

PEOPLE = ["George_W_Bush", "Colin_Powell", "Tony_Blair", "Donald_Rumsfeld", "Gerhard_Schroeder"]
STRANGERS = [("Aaron_Eckhart", 1), ("AJ_Cook", 1), ("Aaron_Peirsol", 1)]


@pytest.fixture(scope="module")
def engine():
    return facerec.Engine.shared()


def test_version():
    v = facerec.version().split(".")
    assert len(v) == 3 and all(p.isdigit() for p in v)


def test_kernel_level():
    assert facerec.kernel_level() in ("avx512", "avx2", "generic")
    # FACEREC_ISA is read once per process: a fresh interpreter with it set to generic
    package_dir = os.path.dirname(os.path.dirname(os.path.abspath(facerec.__file__)))
    env = dict(os.environ, FACEREC_ISA="generic", PYTHONPATH=package_dir)
    out = subprocess.run([sys.executable, "-c", "import facerec; print(facerec.kernel_level())"],
                         env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "generic"


def test_load_image_from_path_bytes_and_file(demo):
    img = facerec.load_image(demo("sample1"))
    assert img.shape == (1280, 1920, 3) and img.dtype == np.uint8
    with open(demo("sample1"), "rb") as f:
        data = f.read()
    assert np.array_equal(facerec.load_image(data), img)
    assert np.array_equal(facerec.load_image(io.BytesIO(data)), img)


def test_save_and_load_round_trip(demo, tmp_path):
    img = facerec.load_image(demo("sample2"))[100:300, 200:450]
    facerec.save_image(img, tmp_path / "crop.png")
    assert np.array_equal(facerec.load_image(tmp_path / "crop.png"), img)


def test_detect_on_demo_photos(engine, demo):
    # the three people of sample1 (as face-api.js finds them: tests/data/faceapi)
    faces = engine.detect(facerec.load_image(demo("sample1")))
    assert len(faces) == 3
    for f in faces:
        assert 0.9 < f.score <= 1 and f.w > 100 and f.h > 100
        assert f.landmarks.shape == (5, 2)  # MTCNN's points
        x, y = f.landmarks[:, 0], f.landmarks[:, 1]
        assert np.all((x > f.x) & (x < f.x + f.w) & (y > f.y) & (y < f.y + f.h))
        assert f.embedding is None


def test_embed_gives_unit_vectors_of_the_model(engine, demo):
    faces = engine.embed(facerec.load_image(demo("sample1")))
    assert engine.model == "fusion" and len(faces) == 3
    for f in faces:
        assert f.embedding.shape == (engine.dim,) and f.embedding.dtype == np.float32
        assert abs(np.linalg.norm(f.embedding) - 1) < 1e-4
    # three different people: farther apart than the model's threshold (0.68)
    assert min(facerec.distance(a.embedding, b.embedding)
               for i, a in enumerate(faces) for b in faces[i + 1:]) > engine.default_threshold()


def test_embed_given_boxes_places_68_landmarks(engine, demo):
    img = facerec.load_image(demo("sample1"))
    found = engine.detect(img)
    boxes = [facerec.Face(f.x, f.y, f.w, f.h, f.score, np.zeros((0, 2))) for f in found]
    again = engine.embed(img, boxes)
    assert [f.landmarks.shape for f in again] == [(68, 2)] * 3
    for a, b in zip(engine.embed(img, found), again):
        assert facerec.distance(a.embedding, b.embedding) < 0.5  # same face, other alignment


def test_raw_dlib_descriptors_are_face_api_js(demo, faceapi_fixture):
    """face-api.js runs dlib's ResNet on its own crop: with that crop, SSD boxes and raw
    descriptors facerec gives face-api.js's descriptors (tests/data/faceapi)."""
    eng = facerec.Engine(model="dlib-resnet", detector="ssd", align="faceapi", flip=False,
                         raw=True)
    assert eng.model == "dlib-resnet:raw" and eng.dim == 128
    for name in ("sample1", "sample2", "sample3"):
        golden = np.array(faceapi_fixture(name)["descriptors"])
        faces = eng.embed(facerec.load_image(demo(name)))
        assert len(faces) == len(golden)
        ours = np.array([f.embedding for f in faces])
        assert np.abs(ours - golden).max() < 2e-3, name
        assert np.all(np.linalg.norm(ours, axis=1) > 1.2)  # dlib's scale, not unit length


def _enroll_lfw(gallery, lfw):
    for person in PEOPLE:
        assert gallery.enroll(person, [lfw(person, 1)]) == 1


def test_gallery_enroll_identify_verify(tmp_path, lfw):
    with facerec.Gallery(tmp_path / "g.db") as g:
        _enroll_lfw(g, lfw)
        assert [p.name for p in g.people()] == sorted(PEOPLE)
        assert all(p.n_templates == 1 for p in g.people())
        assert g.info()["model"] == "fusion"
        for person in PEOPLE:
            (m,) = g.identify(lfw(person, 2))
            assert m.name == person and m.distance <= m.threshold
        for person, i in STRANGERS:
            (m,) = g.identify(lfw(person, i))
            assert m.name is None and m.distance > m.threshold
        v = g.verify(lfw("Colin_Powell", 3), "Colin_Powell")
        assert v.same and v.distance <= v.threshold
        assert not g.verify(lfw("Colin_Powell", 3), "Tony_Blair").same
        g.remove("Tony_Blair")
        assert "Tony_Blair" not in [p.name for p in g.people()]
        assert g.identify(lfw("Tony_Blair", 2))[0].name != "Tony_Blair"


def test_gallery_from_arrays_and_no_face(tmp_path, demo):
    img = facerec.load_image(demo("sample1"))
    with facerec.Gallery(tmp_path / "g.db") as g:
        g.enroll("someone", img)  # the largest face of the photo
        with pytest.raises(facerec.FacerecError) as e:
            g.enroll("someone", img)  # the same pixels again
        assert e.value.status_name == "arg"
        with pytest.raises(facerec.FacerecError) as e:
            g.enroll("nobody", np.zeros((200, 200, 3), np.uint8))
        assert e.value.status_name == "no_face" and "no face" in e.value.message
        assert [p.name for p in g.people()] == ["someone"]
        assert g.identify(np.zeros((200, 200, 3), np.uint8)) == []


def test_gallery_threads_identify_at_once(tmp_path, lfw):
    """Six threads share one engine and one gallery: every answer is the serial one."""
    with facerec.Gallery(tmp_path / "g.db", engine=facerec.Engine.shared(model="mobilefacenet")) as g:
        _enroll_lfw(g, lfw)
        probes = [lfw(p, 2) for p in PEOPLE] + [lfw(p, i) for p, i in STRANGERS]
        expected = [p for p in PEOPLE] + [None] * len(STRANGERS)
        images = [facerec.load_image(p) for p in probes]
        answers, errors = {}, []

        def work(t):
            try:
                for k in range(len(images)):
                    j = (k + t) % len(images)
                    (m,) = g.identify(images[j])
                    answers[(t, j)] = m.name
            except Exception as e:  # reported below, on the main thread
                errors.append(e)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert len(answers) == 6 * len(images)
        assert all(answers[(t, j)] == expected[j] for t, j in answers)


def test_identify_in_an_empty_gallery_binds_nothing(tmp_path, demo):
    img = facerec.load_image(demo("sample1"))
    with facerec.Gallery(tmp_path / "g.db") as g:
        assert [m.name for m in g.identify(img)] == [None, None, None]
        assert g.info()["model"] == ""


def test_gallery_refuses_another_model(tmp_path, demo):
    img = facerec.load_image(demo("sample1"))
    with facerec.Gallery(tmp_path / "g.db") as g:
        g.enroll("a", img)
    other = facerec.Engine.shared(model="mobilefacenet")
    with facerec.Gallery(tmp_path / "g.db", engine=other) as g:
        with pytest.raises(facerec.FacerecError) as e:
            g.identify(img)
        assert e.value.status_name == "mismatch" and "mobilefacenet" in e.value.message


def test_errors_carry_status_and_message(tmp_path):
    with pytest.raises(facerec.FacerecError) as e:
        facerec.Engine(model="no-such-model")
    assert e.value.status == 1 and e.value.status_name == "arg"
    assert "no-such-model" in e.value.message and "no-such-model" in str(e.value)
    with pytest.raises(facerec.FacerecError) as e:
        facerec.Engine(detector="nope")
    assert "nope" in e.value.message
    with pytest.raises(facerec.FacerecError) as e:
        facerec.Engine(models_dir=tmp_path)
    assert e.value.status_name == "model" and str(tmp_path) in e.value.message
    with pytest.raises(facerec.FacerecError) as e:
        facerec.load_image(tmp_path / "missing.jpg")
    assert e.value.status_name == "io" and "missing.jpg" in e.value.message
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    with pytest.raises(facerec.FacerecError) as e:
        facerec.load_image(tmp_path / "bad.jpg")
    assert e.value.status_name == "format" and "bad.jpg" in e.value.message
    with pytest.raises(facerec.FacerecError) as e:
        facerec.Gallery(tmp_path / "none.db", create=False)
    assert e.value.status_name == "not_found"
    with facerec.Gallery(tmp_path / "g.db") as g:
        with pytest.raises(facerec.FacerecError) as e:
            g.remove("nobody")
        assert e.value.status_name == "not_found" and "nobody" in e.value.message
        with pytest.raises(facerec.FacerecError) as e:
            g.verify(np.zeros((10, 10, 3), np.uint8), "x")
        assert e.value.status_name == "no_face"
    with pytest.raises(facerec.FacerecError):
        facerec.Engine(model="fusion", raw=True)  # raw needs a single model


def test_bad_arrays_are_refused(engine):
    with pytest.raises(TypeError):
        engine.detect(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(ValueError):
        engine.detect(np.zeros((10, 10, 2), np.uint8))
    with pytest.raises(ValueError):
        engine.detect(np.zeros((0, 10, 3), np.uint8))
    # grey and RGBA are converted; a view with strides is copied
    assert engine.detect(np.zeros((50, 60), np.uint8)) == []
    assert engine.detect(np.zeros((50, 60, 4), np.uint8)[:, ::2]) == []


def test_closed_handles_refuse_work(tmp_path):
    eng = facerec.Engine(model="mobilefacenet")
    eng.close()
    with pytest.raises(ValueError):
        eng.detect(np.zeros((10, 10, 3), np.uint8))
    g = facerec.Gallery(tmp_path / "g.db")
    g.close()
    with pytest.raises(ValueError):
        g.people()


def test_library_lookup_names_what_it_tried(tmp_path):
    python_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=python_dir, FACEREC_LIBRARY=str(tmp_path / "nope.so"))
    out = subprocess.run([sys.executable, "-c", "import facerec"], env=env,
                         capture_output=True, text=True)
    assert out.returncode != 0
    assert "libfacerec not found" in out.stderr and str(tmp_path / "nope.so") in out.stderr


def test_engine_without_embedder_detects_only(demo):
    eng = facerec.Engine(embed=False)
    img = facerec.load_image(demo("sample1"))
    assert len(eng.detect(img)) == 3 and eng.model is None
    with pytest.raises(facerec.FacerecError) as e:
        eng.embed(img)
    assert "without an embedding model" in e.value.message
