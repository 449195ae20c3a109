"""Drop-in modules for code written against other face libraries:
facerec.compat.face_recognition (face_recognition 1.3's API) and its two command-line
tools, facerec.compat.face_recognition_cli and facerec.compat.face_detection_cli."""
