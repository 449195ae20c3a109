"""The face_recognition and face_detection command-line tools (facerec.compat.*_cli)."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import facerec
import facerec.compat.face_recognition as face_recognition
from facerec.compat import face_detection_cli, face_recognition_cli

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(main, args, capsys):
    status = main(args)
    out, err = capsys.readouterr()
    return status, out.splitlines(), err


def test_face_detection_lines(demo, capsys):
    path = demo("sample1")
    status, lines, _ = run(face_detection_cli.main, [path], capsys)
    img = face_recognition.load_image_file(path)
    expected = ["{},{},{},{},{}".format(path, *loc)
                for loc in face_recognition.face_locations(img, number_of_times_to_upsample=0)]
    assert status == 0 and lines == expected and len(lines) == 3


def test_face_detection_folder_and_cpus(demo, tmp_path, capsys):
    for name in ("sample1", "sample3"):
        shutil.copy(demo(name), tmp_path / f"{name}.jpg")
    (tmp_path / "notes.txt").write_text("not an image, not looked at")
    status, serial, _ = run(face_detection_cli.main, [str(tmp_path)], capsys)
    assert status == 0 and len(serial) == 6
    assert [line.split(",")[0] for line in serial] == [str(tmp_path / "sample1.jpg")] * 3 + \
        [str(tmp_path / "sample3.jpg")] * 3
    status, parallel, _ = run(face_detection_cli.main, ["--cpus", "2", str(tmp_path)], capsys)
    assert status == 0 and parallel == serial
    status, cnn, _ = run(face_detection_cli.main, ["--model", "cnn", "--upsample", "1",
                                                   str(tmp_path)], capsys)
    assert status == 0 and cnn == serial


def test_face_detection_errors(tmp_path, capsys):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 broken")
    status, lines, err = run(face_detection_cli.main, [str(bad)], capsys)
    assert status == 1 and lines == [] and "bad.jpg" in err
    with pytest.raises(SystemExit) as e:
        face_detection_cli.main(["--model", "bogus", str(bad)])
    assert e.value.code == 2
    status, lines, err = run(face_detection_cli.main, ["--cpus", "0", str(bad)], capsys)
    assert status == 2 and "--cpus" in err


@pytest.fixture
def known(lfw, tmp_path):
    folder = tmp_path / "known"
    folder.mkdir()
    for person in ("George_W_Bush", "Colin_Powell"):
        shutil.copy(lfw(person, 1), folder / f"{person.split('_')[0].lower()}.jpg")
    return folder


def test_face_recognition_lines(known, lfw, tmp_path, capsys):
    bush = lfw("George_W_Bush", 2)
    status, lines, _ = run(face_recognition_cli.main, [str(known), bush], capsys)
    assert status == 0 and lines == [f"{bush},george"]
    status, lines, _ = run(face_recognition_cli.main,
                           ["--show-distance", "true", str(known), bush], capsys)
    path, name, distance = lines[0].split(",")
    assert status == 0 and len(lines) == 1 and (path, name) == (bush, "george")
    assert 0 < float(distance) <= 0.6
    stranger = lfw("AJ_Cook", 1)
    status, lines, _ = run(face_recognition_cli.main,
                           ["--show-distance", "1", str(known), stranger], capsys)
    assert lines == [f"{stranger},unknown_person,None"]
    # a tolerance of 0 matches nobody; a huge one matches everyone
    status, lines, _ = run(face_recognition_cli.main, ["--tolerance", "0", str(known), bush],
                           capsys)
    assert lines == [f"{bush},unknown_person"]
    status, lines, _ = run(face_recognition_cli.main, ["--tolerance", "9", str(known), bush],
                           capsys)
    assert sorted(lines) == [f"{bush},colin", f"{bush},george"]


def test_face_recognition_folder_no_faces_and_warnings(known, lfw, tmp_path, capsys):
    checks = tmp_path / "check"
    checks.mkdir()
    shutil.copy(lfw("Colin_Powell", 2), checks / "a.jpg")
    facerec.save_image(np.full((120, 160, 3), 90, np.uint8), checks / "b.png")
    facerec.save_image(np.full((120, 160, 3), 90, np.uint8), known / "empty.png")
    status, lines, _ = run(face_recognition_cli.main, ["--cpus", "-1", str(known), str(checks)],
                           capsys)
    assert status == 0
    assert lines == [f"WARNING: No faces found in {known / 'empty.png'}. Ignoring file.",
                     f"{checks / 'a.jpg'},colin", f"{checks / 'b.png'},no_persons_found"]


def test_face_recognition_shrinks_large_images(known, lfw, tmp_path, capsys):
    # face_recognition scales images over 1600 px down first; the face is still found
    big = np.repeat(np.repeat(face_recognition.load_image_file(lfw("George_W_Bush", 2)), 8, 0),
                    8, 1)
    facerec.save_image(big, tmp_path / "big.jpg")
    status, lines, _ = run(face_recognition_cli.main, [str(known), str(tmp_path / "big.jpg")],
                           capsys)
    assert status == 0 and lines == [f"{tmp_path / 'big.jpg'},george"]


def test_face_recognition_errors(known, tmp_path, capsys):
    status, lines, err = run(face_recognition_cli.main, [str(known), str(tmp_path / "none.jpg")],
                             capsys)
    assert status == 1 and "none.jpg" in err
    with pytest.raises(SystemExit):
        face_recognition_cli.main([str(tmp_path / "missing"), str(known)])
    with pytest.raises(SystemExit):
        face_recognition_cli.main(["--show-distance", "maybe", str(known), str(known)])


@pytest.mark.parametrize("module, options", [
    ("face_recognition_cli", ("--cpus", "--tolerance", "--show-distance")),
    ("face_detection_cli", ("--cpus", "--model", "--upsample"))])
def test_module_entry_points(module, options):
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR)
    help_text = subprocess.run([sys.executable, "-m", f"facerec.compat.{module}", "--help"],
                               env=env, capture_output=True, text=True, check=True)
    for option in options:
        assert option in help_text.stdout
