"""face_recognition 1.3's `face_detection` command: one line per face found,
`file,top,right,bottom,left`.

    python3 -m facerec.compat.face_detection_cli [--cpus N] [--model hog|cnn] [--upsample N] IMAGE_OR_FOLDER
"""
import argparse
import os
import sys

from facerec.compat import _cli
from facerec.compat import face_recognition


def test_image(image_to_check, model, upsample):
    """The output lines of one image."""
    image = face_recognition.load_image_file(image_to_check)
    locations = face_recognition.face_locations(image, number_of_times_to_upsample=upsample,
                                                model=model)
    return ["{},{},{},{},{}".format(image_to_check, *loc) for loc in locations]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="face_detection",
                                     description="Find the faces in an image or a folder of "
                                                 "images (face_recognition's face_detection).")
    parser.add_argument("image_to_check")
    _cli.add_cpus(parser)
    parser.add_argument("--model", default="hog",
                        help='Which face detection model to use. Options are "hog" or "cnn" '
                             '(both MTCNN here) or a facerec detector name.')
    parser.add_argument("--upsample", type=int, default=0,
                        help="How many times to upsample the image looking for faces. Higher "
                             "numbers find smaller faces.")
    args = parser.parse_args(argv)
    try:
        face_recognition._detector(args.model)
    except ValueError as e:
        parser.error(str(e))
    if args.upsample < 0:
        parser.error("--upsample must be 0 or more")
    if os.path.isdir(args.image_to_check):
        paths = _cli.image_files_in_folder(args.image_to_check)
    else:
        paths = [args.image_to_check]
    return _cli.run_over(paths, lambda p: test_image(p, args.model, args.upsample), args.cpus,
                         parser.prog)


if __name__ == "__main__":
    sys.exit(main())
