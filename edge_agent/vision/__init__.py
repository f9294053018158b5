"""Gate vision: face recognition (1:N) for the gate (issue 3).

* :mod:`.backend`  — the recognition backend interface and ``REGISTRY`` (``[edge.vision] type``)
* :mod:`.sface`    — default backend: YuNet + SFace through OpenCV (models in ``models/``)
* :mod:`.dlib_backend` — alternative backend: dlib HOG + 5-point alignment + 128-d ResNet
* :mod:`.gallery`  — vectorised 1:N matching with threshold + margin (open set)
* :mod:`.images`   — still images read upright (EXIF) with a size cap
* :mod:`.eval_identify` — ``edge-agent eval identify DIR --json``
* :mod:`.config`   — ``VisionConfig`` (documented defaults)

Importing this package imports no vision library.
"""
