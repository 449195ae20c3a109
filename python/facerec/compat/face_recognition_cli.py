"""face_recognition 1.3's `face_recognition` command: the people of a folder of known faces
(one person per image, named by the file) recognised in an image or a folder of images, one
line per face: `file,name` (`file,name,distance` with --show-distance true), `unknown_person`
for a stranger, `no_persons_found` for an image without faces.

    python3 -m facerec.compat.face_recognition_cli [--cpus N] [--tolerance T] [--show-distance BOOL] KNOWN_PEOPLE_FOLDER IMAGE_TO_CHECK
"""
import argparse
import os
import sys

import facerec
from facerec.compat import _cli
from facerec.compat import face_recognition

MAX_SIDE = 1600  # face_recognition shrinks larger images to this first


def scan_known_people(known_people_folder, warn=print):
    """Names and encodings of the first face of each image of the folder."""
    known_names, known_face_encodings = [], []
    for file in _cli.image_files_in_folder(known_people_folder):
        basename = os.path.splitext(os.path.basename(file))[0]
        img = face_recognition.load_image_file(file)
        encodings = face_recognition.face_encodings(img)
        if len(encodings) > 1:
            warn("WARNING: More than one face found in {}. Only considering the first face."
                 .format(file))
        if len(encodings) == 0:
            warn("WARNING: No faces found in {}. Ignoring file.".format(file))
        else:
            known_names.append(basename)
            known_face_encodings.append(encodings[0])
    return known_names, known_face_encodings


def _line(filename, name, distance, show_distance):
    return "{},{},{}".format(filename, name, distance) if show_distance \
        else "{},{}".format(filename, name)


def _shrunk(image):
    """image scaled to at most MAX_SIDE pixels on its longer side (bilinear, where
    face_recognition uses PIL's Lanczos thumbnail)."""
    h, w = image.shape[:2]
    if max(h, w) <= MAX_SIDE:
        return image
    scale = MAX_SIDE / max(h, w)
    return face_recognition._resize(image, max(1, round(w * scale)), max(1, round(h * scale)))


def test_image(image_to_check, known_names, known_face_encodings, tolerance=0.6,
               show_distance=False):
    """The output lines of one image."""
    unknown_image = _shrunk(face_recognition.load_image_file(image_to_check))
    unknown_encodings = face_recognition.face_encodings(unknown_image)
    lines = []
    for unknown_encoding in unknown_encodings:
        distances = face_recognition.face_distance(known_face_encodings, unknown_encoding)
        result = list(distances <= tolerance)
        if True in result:
            lines += [_line(image_to_check, name, distance, show_distance)
                      for is_match, name, distance in zip(result, known_names, distances)
                      if is_match]
        else:
            lines.append(_line(image_to_check, "unknown_person", None, show_distance))
    if not unknown_encodings:
        lines.append(_line(image_to_check, "no_persons_found", None, show_distance))
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(prog="face_recognition",
                                     description="Recognise the known people in an image or a "
                                                 "folder of images (face_recognition's "
                                                 "face_recognition).")
    parser.add_argument("known_people_folder")
    parser.add_argument("image_to_check")
    _cli.add_cpus(parser)
    parser.add_argument("--tolerance", type=float, default=0.6,
                        help="Tolerance for face comparisons. Default is 0.6. Lower this if you "
                             "get multiple matches for the same person.")
    parser.add_argument("--show-distance", type=_cli.parse_bool, default=False,
                        help="Output face distance. Default is False")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.known_people_folder):
        parser.error(f"{args.known_people_folder}: not a folder")
    try:
        known_names, known_encodings = scan_known_people(args.known_people_folder)
    except (facerec.FacerecError, OSError) as e:
        print(f"{parser.prog}: {e}", file=sys.stderr)
        return 1
    if os.path.isdir(args.image_to_check):
        paths = _cli.image_files_in_folder(args.image_to_check)
    else:
        paths = [args.image_to_check]
    return _cli.run_over(paths, lambda p: test_image(p, known_names, known_encodings,
                                                     args.tolerance, args.show_distance),
                         args.cpus, parser.prog)


if __name__ == "__main__":
    sys.exit(main())
