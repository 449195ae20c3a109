"""What face_recognition's two command-line tools share: the image files of a folder, the
--cpus option (threads on the one shared engine here, in place of processes), errors."""
import argparse
import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor

import facerec


def image_files_in_folder(folder):
    """The .jpg, .jpeg and .png files of folder (as face_recognition picks them), sorted."""
    return [os.path.join(folder, f) for f in sorted(os.listdir(folder))
            if re.match(r".*\.(jpg|jpeg|png)", f, flags=re.I)]


def parse_bool(text):
    """click's BOOL: true/false, yes/no, 1/0, y/n, t/f, on/off."""
    value = text.strip().lower()
    if value in ("1", "true", "t", "yes", "y", "on"):
        return True
    if value in ("0", "false", "f", "no", "n", "off"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not a valid boolean")


def add_cpus(parser):
    parser.add_argument("--cpus", type=int, default=1,
                        help='number of CPU cores to use in parallel (can speed up processing '
                             'lots of images). -1 means "use all in system"')


def run_over(paths, work, cpus, prog):
    """work(path) -> list of output lines for each path, printed in the order of paths; a
    file that fails is reported on stderr with its name and the others go on. Returns the
    exit status (1 if any failed)."""
    workers = (os.cpu_count() or 1) if cpus == -1 else cpus
    if workers < 1:
        print(f"{prog}: --cpus must be -1 or at least 1, not {cpus}", file=sys.stderr)
        return 2

    def safe(path):
        try:
            return work(path), None
        except (facerec.FacerecError, OSError, ValueError) as e:
            # the library's messages already name the file
            named = isinstance(e, facerec.FacerecError) and path in e.message
            return [], f"{prog}: {e}" if named else f"{prog}: {path}: {e}"

    failed = 0
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for lines, error in pool.map(safe, paths):
            for line in lines:
                print(line)
            if error:
                print(error, file=sys.stderr)
                failed = 1
    sys.stdout.flush()
    return failed
