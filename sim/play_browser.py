"""play.py's browser viewer: the robot and its ground in 3-D, command sliders, push/reset/pause, and live plots
of commanded against measured velocity, served with viser on a headless training box (`viewer=browser`)."""

from __future__ import annotations

import threading
import time
from typing import Any

import mujoco
import numpy as np

from sim.play import Player

VISIBLE_GROUPS = (0, 1, 2)
"""Geom groups drawn: Menagerie-style files keep collision geoms in group 3."""


def _sphere(n_lat: int = 8, n_lon: int = 12, z_split: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A unit UV sphere; with z_split its upper half moves up and its lower half down by that much, the
    equator ring doubled between them: a capsule of half-length z_split."""
    half = n_lat // 2
    thetas = np.concatenate([np.linspace(0, np.pi / 2, half + 1), np.linspace(np.pi / 2, np.pi, half + 1)])
    shifts = np.concatenate([np.full(half + 1, z_split), np.full(half + 1, -z_split)])
    phi = 2 * np.pi * np.arange(n_lon) / n_lon
    verts = np.concatenate([np.stack([np.sin(t) * np.cos(phi), np.sin(t) * np.sin(phi), np.full(n_lon, np.cos(t) + dz)], 1)
                            for t, dz in zip(thetas, shifts)])  # fmt: skip
    faces = []
    for i in range(len(thetas) - 1):
        for j in range(n_lon):
            a, b = i * n_lon + j, i * n_lon + (j + 1) % n_lon
            faces += [[a, a + n_lon, b], [b, a + n_lon, b + n_lon]]
    return verts, np.array(faces)


def _cylinder(n: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """A unit cylinder (radius 1, z from -1 to 1) with caps."""
    phi = 2 * np.pi * np.arange(n) / n
    ring = np.stack([np.cos(phi), np.sin(phi)], axis=1)
    verts = np.concatenate([np.c_[ring, -np.ones(n)], np.c_[ring, np.ones(n)], [[0, 0, -1], [0, 0, 1]]])
    faces = []
    for j in range(n):
        k = (j + 1) % n
        faces += [[j, k, n + j], [k, n + k, n + j], [2 * n, k, j], [2 * n + 1, n + j, n + k]]
    return verts, np.array(faces)


def _box() -> tuple[np.ndarray, np.ndarray]:
    verts = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=float)
    faces = [[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
             [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]]  # fmt: skip
    return verts, np.array(faces)


def geom_mesh(model: mujoco.MjModel, g: int, max_cells: int = 40_000) -> tuple[np.ndarray, np.ndarray] | None:
    """Triangles of geom g in its own frame; None for a plane (drawn as a grid)."""
    t, size = model.geom_type[g], model.geom_size[g]
    G = mujoco.mjtGeom
    if t == G.mjGEOM_BOX:
        v, f = _box()
        return v * size, f
    if t in (G.mjGEOM_SPHERE, G.mjGEOM_ELLIPSOID):
        v, f = _sphere()
        return v * (size if t == G.mjGEOM_ELLIPSOID else size[0]), f
    if t == G.mjGEOM_CAPSULE:
        v, f = _sphere(z_split=size[1] / max(size[0], 1e-9))
        return v * size[0], f
    if t == G.mjGEOM_CYLINDER:
        v, f = _cylinder()
        return v * np.array([size[0], size[0], size[1]]), f
    if t == G.mjGEOM_MESH:
        m = model.geom_dataid[g]
        va, vn = model.mesh_vertadr[m], model.mesh_vertnum[m]
        fa, fn = model.mesh_faceadr[m], model.mesh_facenum[m]
        return model.mesh_vert[va : va + vn].astype(float), model.mesh_face[fa : fa + fn]
    if t == G.mjGEOM_HFIELD:
        h = model.geom_dataid[g]
        nrow, ncol = model.hfield_nrow[h], model.hfield_ncol[h]
        sx, sy, sz, _ = model.hfield_size[h]
        data = model.hfield_data[model.hfield_adr[h] : model.hfield_adr[h] + nrow * ncol].reshape(nrow, ncol)
        step = max(1, int(np.ceil(np.sqrt(nrow * ncol / max_cells))))  # a browser draws ~40k cells smoothly
        data = data[::step, ::step]
        r, c = data.shape
        y, x = np.meshgrid(np.linspace(-sy, sy, r), np.linspace(-sx, sx, c), indexing="ij")
        verts = np.stack([x.ravel(), y.ravel(), data.ravel() * sz], axis=1)
        idx = np.arange(r * c).reshape(r, c)
        a, b, cc, d = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel()
        return verts, np.concatenate([np.stack([a, b, d], 1), np.stack([a, d, cc], 1)])
    return None


class BrowserView:
    """The page: scene nodes per body, GUI controls bound to the Player, and the simulation thread."""

    def __init__(self, player: Player, host: str = "127.0.0.1", port: int = 8080) -> None:
        import viser

        self.player, self.model = player, player.task.model
        self.data = mujoco.MjData(self.model)
        self.server = viser.ViserServer(host=host, port=port, verbose=False)
        self.port = self.server.get_port()
        self.paused, self.speed, self.running = False, 1.0, True
        self._scene()
        self._gui()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _scene(self) -> None:
        model, scene = self.model, self.server.scene
        scene.add_light_directional("/sun", intensity=2.5, cast_shadow=True, wxyz=(0.92, 0.2, 0.2, 0.0))
        scene.add_grid("/ground_grid", width=40.0, height=40.0, cell_size=0.5, section_size=2.0,
                       plane_color=(225, 228, 232), plane_opacity=1.0, shadow_opacity=0.3)  # fmt: skip
        self.frames: dict[int, Any] = {}
        for g in range(model.ngeom):
            if model.geom_group[g] not in VISIBLE_GROUPS or model.geom_rgba[g, 3] == 0:
                continue
            mesh = geom_mesh(model, g)
            if mesh is None:
                continue
            b = int(model.geom_bodyid[g])
            if b not in self.frames:
                self.frames[b] = scene.add_frame(f"/body{b}", show_axes=False)
            color = tuple(int(255 * c) for c in model.geom_rgba[g, :3])
            scene.add_mesh_simple(f"/body{b}/geom{g}", mesh[0].astype(np.float32), mesh[1].astype(np.uint32),
                                  color=color, position=model.geom_pos[g], wxyz=model.geom_quat[g])  # fmt: skip
        self._pose()

    def _gui(self) -> None:
        gui, p = self.server.gui, self.player
        gui.add_markdown(f"**LocoForge play** — {p.task.scene.robot.name}, {p.policy.source.get('kind', '')} "
                         f"`{p.policy.source.get('path', '')}`")  # fmt: skip
        self.sliders = {
            "vx": gui.add_slider("vx (m/s)", *p.limits["vx"], 0.05, 0.0),
            "vy": gui.add_slider("vy (m/s)", *p.limits["vy"], 0.05, 0.0),
            "yaw": gui.add_slider("yaw rate (rad/s)", *p.limits["yaw_rate"], 0.05, 0.0),
        }
        for slider in self.sliders.values():
            slider.on_update(lambda _: self._command())
        speed = gui.add_slider("speed (x real time)", 0.1, 1.0, 0.05, 1.0)
        speed.on_update(lambda _: setattr(self, "speed", float(speed.value)))
        pause = gui.add_checkbox("pause", False)
        pause.on_update(lambda _: setattr(self, "paused", bool(pause.value)))
        self.follow = gui.add_checkbox("camera follows", True)
        gui.add_button("push").on_click(lambda _: p.push())
        gui.add_button("stop (zero command)").on_click(lambda _: self._zero())
        gui.add_button("reset").on_click(lambda _: p.reset())
        self.status = gui.add_markdown(p.status())
        import viser.uplot as uplot

        empty = (np.zeros(1), np.zeros(1), np.zeros(1))
        series = (uplot.Series(label="t"), uplot.Series(label="command", stroke="#888"),
                  uplot.Series(label="measured", stroke="#d9822b"))  # fmt: skip
        scales = {"x": uplot.Scale(time=False)}  # seconds of play, not dates
        self.plots = {"vx": gui.add_uplot(empty, series, title="vx (m/s)", aspect=2.0, scales=scales),
                      "yaw": gui.add_uplot(empty, series, title="yaw rate (rad/s)", aspect=2.0, scales=scales)}  # fmt: skip

    def _command(self) -> None:
        self.player.set_command(self.sliders["vx"].value, self.sliders["vy"].value, self.sliders["yaw"].value)

    def _zero(self) -> None:
        for slider in self.sliders.values():
            slider.value = 0.0
        self.player.set_command(0.0, 0.0, 0.0)

    def _pose(self) -> None:
        task = self.player.task
        self.data.qpos[:] = task.qpos[0]
        mujoco.mj_kinematics(self.model, self.data)
        with self.server.atomic():
            for b, frame in self.frames.items():
                frame.position, frame.wxyz = self.data.xpos[b], self.data.xquat[b]

    def _refresh(self) -> None:
        self.status.content = self.player.status()
        history = list(self.player.history)
        if not history:
            return
        t = np.array([r.t for r in history])
        for key, i in (("vx", 0), ("yaw", 2)):
            self.plots[key].data = (
                t,
                np.array([r.command[i] for r in history]),
                np.array([r.measured[i] for r in history]),
            )
        if self.follow.value:
            base = self.data.xpos[self.player.task.scene.base_body]
            for client in self.server.get_clients().values():
                client.camera.look_at = base
                client.camera.position = base + np.array([-1.2, -1.8, 0.9])

    def _loop(self) -> None:
        k = 0
        while self.running:
            start = time.perf_counter()
            if not self.paused:
                self.player.step()
                self._pose()
                k += 1
                if k % 5 == 0:  # 10 Hz is plenty for text and plots
                    self._refresh()
            time.sleep(max(0.0, self.player.dt / self.speed - (time.perf_counter() - start)))

    def start(self) -> BrowserView:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.running = False
        self.thread.join(timeout=5)
        self.server.stop()


def serve(player: Player, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Serve until Ctrl-C."""
    view = BrowserView(player, host, port).start()
    print(f"play: open http://{host}:{view.port} (Ctrl-C to stop)", flush=True)
    try:
        while True:
            time.sleep(1.0)
    finally:
        view.stop()
