"""Offscreen OpenGL for MuJoCo on machines without a display: pick EGL, or OSMesa where EGL is missing."""

from __future__ import annotations

import ctypes.util
import logging
import os


def headless_default() -> str | None:
    """Set MUJOCO_GL when there is no display and the user chose none; return the backend in force.

    MuJoCo reads MUJOCO_GL when it first creates a GL context, so this runs when `envs` is imported, before
    any renderer exists. An explicit MUJOCO_GL is always kept.
    """
    logging.getLogger("OpenGL").setLevel(logging.WARNING)  # PyOpenGL's INFO line on every import
    if os.environ.get("MUJOCO_GL") or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return os.environ.get("MUJOCO_GL")
    backend = "egl" if ctypes.util.find_library("EGL") else "osmesa" if ctypes.util.find_library("OSMesa") else None
    if backend is not None:
        os.environ["MUJOCO_GL"] = backend
        os.environ.setdefault("PYOPENGL_PLATFORM", backend)
    return backend
