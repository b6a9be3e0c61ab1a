"""Terrains as one heightfield of tiles (rows of tiles are difficulty levels), and their curriculum.

Every simulation of a batch has its own copy of the world, so robots never meet: each is placed on the
tile its curriculum level picks. Tile edges sit at height 0 so neighbouring tiles join without cliffs; a flat
border of one tile surrounds them, and a plane below the lowest pit catches a robot that walks past it (a
plane at 0 would cover every pit: robots would walk over "down" slopes and stairs on flat ground).
"""

from __future__ import annotations

import mujoco
import numpy as np

from envs.config import PREFIX, TerrainConfig

KINDS = ("plane", "rough", "slopes", "stairs", "obstacles", "mixed")
TILE_KINDS = ("rough", "slopes", "stairs", "obstacles")
"""Tile types, each with its own section of TerrainConfig; `mixed` gives each its share of the columns."""
_RANGES = {"rough": ("height",), "slopes": ("slope",), "stairs": ("step_height",), "obstacles": ("height", "size")}


def _rough_tile(n: int, amplitude: float, rng: np.random.Generator) -> np.ndarray:
    # noise on a 2x coarser grid, upsampled, so that bumps are about a foot wide
    coarse = rng.uniform(0.0, amplitude, size=((n + 1) // 2, (n + 1) // 2))
    tile = np.kron(coarse, np.ones((2, 2)))[:n, :n]
    from_edge = np.minimum(np.arange(n), np.arange(n)[::-1])
    # fade to 0 over the outer cells so tiles join smoothly
    fade = np.clip(np.minimum(from_edge[:, None], from_edge[None, :]) / 3.0, 0.0, 1.0)
    return tile * fade


def _pyramid_distance(n: int, cell: float) -> np.ndarray:
    """Distance (m) from a tile's edge, along the nearer axis: 0 at the edge, largest at the centre."""
    coords = (np.arange(n) + 0.5) * cell
    half = n * cell / 2.0
    from_center = np.abs(coords - half)
    return half - np.maximum(from_center[:, None], from_center[None, :])


def _slope_tile(n: int, cell: float, slope: float, sign: float) -> np.ndarray:
    dist = _pyramid_distance(n, cell)
    platform = 1.0  # flat top of 1 m around the spawn point
    return sign * np.tan(slope) * np.minimum(dist, n * cell / 2.0 - platform)


def _stairs_tile(n: int, cell: float, height: float, width: float, sign: float) -> np.ndarray:
    dist = _pyramid_distance(n, cell)
    platform = 1.0
    steps = np.floor(np.minimum(dist, n * cell / 2.0 - platform) / width)
    return sign * height * steps


def _obstacle_tile(n: int, cell: float, height: float, size: list[float], count: int,
                   rng: np.random.Generator) -> np.ndarray:  # fmt: skip
    """Rectangular blocks raised or sunk by up to `height`, kept off a 2 m spawn platform at the centre."""
    tile = np.zeros((n, n))
    for _ in range(count):
        w, d = (rng.uniform(size[0], size[1], 2) / cell).astype(int) + 1
        i, j = rng.integers(0, n - w + 1), rng.integers(0, n - d + 1)
        tile[i : i + w, j : j + d] = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.0) * height
    centre, platform = n // 2, int(round(1.0 / cell))
    tile[centre - platform : centre + platform, centre - platform : centre + platform] = 0.0
    edge = max(int(round(0.3 / cell)), 1)  # tiles join at height 0
    tile[:edge], tile[-edge:], tile[:, :edge], tile[:, -edge:] = 0.0, 0.0, 0.0, 0.0
    return tile


def allocate_columns(kind: str, shares: dict[str, float], n_cols: int) -> list[str]:
    """The tile type of each column: one type for a single kind; for `mixed`, each type with a share > 0 gets
    its share of the columns (largest remainders, at least one each), in TILE_KINDS order."""
    if kind != "mixed":
        return [kind] * n_cols
    kinds = [k for k in TILE_KINDS if shares[k] > 0]
    if not kinds or any(shares[k] < 0 for k in TILE_KINDS):
        raise ValueError("terrain.<type>.share: mixed terrain needs shares >= 0, at least one > 0")
    if n_cols < len(kinds):
        raise ValueError(f"terrain.n_cols: mixed terrain with {len(kinds)} tile types needs at least as many "
                         f"columns, got {n_cols}")  # fmt: skip
    total = sum(shares[k] for k in kinds)
    exact = np.array([shares[k] / total * n_cols for k in kinds])
    counts = np.maximum(np.floor(exact).astype(int), 1)
    while counts.sum() < n_cols:
        counts[np.argmax(exact - counts)] += 1
    while counts.sum() > n_cols:
        counts[np.argmax(np.where(counts > 1, counts - exact, -np.inf))] -= 1
    return [k for k, c in zip(kinds, counts, strict=True) for _ in range(c)]


class Terrain:
    """A grid of terrain tiles, its MuJoCo heightfield, and the lookup of heights and spawn points."""

    def __init__(self, cfg: TerrainConfig, seed: int = 0) -> None:
        if cfg.kind not in KINDS:
            raise ValueError(f"terrain.kind: unknown kind '{cfg.kind}'; accepted: {', '.join(KINDS)}")
        positive = {"tile_size": cfg.tile_size, "horizontal_scale": cfg.horizontal_scale, "friction": cfg.friction,
                    "stairs.step_width": cfg.stairs.step_width}  # fmt: skip
        for name, value in positive.items():
            if value <= 0:
                raise ValueError(f"terrain.{name}: must be > 0, got {value}")
        for kind, names in _RANGES.items():
            for name in names:
                value = getattr(getattr(cfg, kind), name)
                if len(value) != 2 or min(value) < 0:
                    raise ValueError(f"terrain.{kind}.{name}: give [easiest, hardest], both >= 0, got {list(value)}")
        if cfg.obstacles.count < 0:
            raise ValueError(f"terrain.obstacles.count: must be >= 0, got {cfg.obstacles.count}")
        if cfg.n_levels < 1 or cfg.n_cols < 1:
            raise ValueError("terrain.n_levels and terrain.n_cols: must be >= 1")
        if not 0 <= cfg.start_level < cfg.n_levels:
            raise ValueError(f"terrain.start_level: must be in [0, {cfg.n_levels - 1}], got {cfg.start_level}")
        self.cfg = cfg
        self.is_plane = cfg.kind == "plane"
        self.n_levels = 1 if self.is_plane else cfg.n_levels
        self.n_cols = 1 if self.is_plane else cfg.n_cols
        self.tile = cfg.tile_size
        self.cell = cfg.horizontal_scale
        self.cells_per_tile = int(round(self.tile / self.cell))
        self.border = 0 if self.is_plane else self.cells_per_tile
        """Cells of flat (height 0) heightfield around the tiles."""
        shares = {k: getattr(cfg, k).share for k in TILE_KINDS}
        self.column_kind = ["plane"] if self.is_plane else allocate_columns(cfg.kind, shares, self.n_cols)
        """Tile type of each column."""
        seen: dict[str, int] = {}
        signs = []
        for kind in self.column_kind:  # within each type, hills and pits alternate
            signs.append(1.0 if seen.get(kind, 0) % 2 == 0 else -1.0)
            seen[kind] = seen.get(kind, 0) + 1
        self.column_sign = np.array(signs)
        """+1: a hill (spawn on top, walk down), -1: a pit (spawn at the bottom, walk up)."""
        sloped = np.array([kind in ("slopes", "stairs") for kind in self.column_kind])
        self.descent = sloped & (self.column_sign > 0)
        """Per column: robots there walk down a hill of slopes or stairs."""
        self.column_name = [f"{k}_{'down' if down else 'up'}" if up_or_down else k
                            for k, up_or_down, down in zip(self.column_kind, sloped, self.descent, strict=True)]  # fmt: skip
        """Tile type of each column, with the way robots walk it for slopes and stairs (stairs_down, stairs_up)."""
        self.heights = np.zeros((1, 1)) if self.is_plane else self._generate(np.random.default_rng(seed))
        self._planes: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def difficulty(self, kind: str, level: int | np.ndarray) -> float | np.ndarray:
        """The main parameter of a tile type at a level: slope (rad), step height, bump or block height (m)."""
        section = getattr(self.cfg, kind)  # the first of its ranges is the difficulty
        low, high = getattr(section, _RANGES[kind][0])
        return low + (high - low) * np.asarray(level) / max(self.n_levels - 1, 1)

    def _generate(self, rng: np.random.Generator) -> np.ndarray:
        cfg, n, cell = self.cfg, self.cells_per_tile, self.cell
        # heights[ix, iy]: x runs along levels, y along columns
        b = self.border
        heights = np.zeros((self.n_levels * n + 2 * b, self.n_cols * n + 2 * b))
        for level in range(self.n_levels):
            for col, (kind, sign) in enumerate(zip(self.column_kind, self.column_sign, strict=True)):
                d = float(self.difficulty(kind, level))
                if kind == "rough":
                    tile = _rough_tile(n, d, rng)
                elif kind == "slopes":
                    tile = _slope_tile(n, cell, d, sign)
                elif kind == "stairs":
                    tile = _stairs_tile(n, cell, d, cfg.stairs.step_width, sign)
                else:
                    tile = _obstacle_tile(n, cell, d, cfg.obstacles.size, cfg.obstacles.count, rng)
                heights[b + level * n : b + (level + 1) * n, b + col * n : b + (col + 1) * n] = tile
        return heights

    @property
    def size_xy(self) -> tuple[float, float]:
        return self.n_levels * self.tile, self.n_cols * self.tile

    @property
    def field_xy(self) -> tuple[float, float]:
        """Extent of the heightfield: its vertices lie `horizontal_scale` apart from (0, 0)."""
        nx, ny = self.heights.shape
        return (nx - 1) * self.cell, (ny - 1) * self.cell

    def add_to_spec(self, spec: mujoco.MjSpec) -> None:
        """Add the ground (plane, plus the heightfield when there is one) to a model spec, with a checker
        texture and a sky that make motion easy to read in video and viewers (visual only: no physics)."""
        lo, hi = float(self.heights.min()), float(self.heights.max())
        spec.add_texture(name=PREFIX + "sky", type=mujoco.mjtTexture.mjTEXTURE_SKYBOX,
                         builtin=mujoco.mjtBuiltin.mjBUILTIN_GRADIENT, rgb1=[0.6, 0.75, 0.9], rgb2=[0.1, 0.15, 0.25],
                         width=256, height=1536)  # fmt: skip
        spec.add_texture(name=PREFIX + "checker", type=mujoco.mjtTexture.mjTEXTURE_2D,
                         builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER, rgb1=[0.33, 0.37, 0.42], rgb2=[0.45, 0.49, 0.54],
                         mark=mujoco.mjtMark.mjMARK_EDGE, markrgb=[0.62, 0.64, 0.66], width=256, height=256)  # fmt: skip
        material = spec.add_material(name=PREFIX + "ground", texrepeat=[1, 1], texuniform=True, reflectance=0.05)
        material.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = PREFIX + "checker"
        spec.worldbody.add_geom(
            name=PREFIX + "ground",
            type=mujoco.mjtGeom.mjGEOM_PLANE,
            pos=[0, 0, min(lo, 0.0) - (0.0 if self.is_plane else 0.01)],  # below the lowest pit
            size=[0, 0, 0.05],
            friction=[self.cfg.friction, 0.02, 0.01],
            contype=1,
            conaffinity=1,
            material=PREFIX + "ground",
        )
        if self.is_plane:
            return
        span = max(hi - lo, 1e-3)
        sx, sy = self.field_xy
        # MuJoCo's heightfield is row-major with rows along y; its vertices span the field's size exactly
        data = ((self.heights - lo) / span).T
        spec.add_hfield(
            name=PREFIX + "terrain",
            size=[sx / 2.0, sy / 2.0, span, 0.5],
            nrow=data.shape[0],
            ncol=data.shape[1],
            userdata=data.ravel().tolist(),
        )
        spec.worldbody.add_geom(
            name=PREFIX + "terrain",
            type=mujoco.mjtGeom.mjGEOM_HFIELD,
            hfieldname=PREFIX + "terrain",
            pos=[sx / 2.0, sy / 2.0, lo],
            friction=[self.cfg.friction, 0.02, 0.01],
            contype=1,
            conaffinity=1,
            material=PREFIX + "ground",
        )

    def _triangles(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per cell and triangle, the plane h = a + bx * tx + by * ty as three flat arrays (cells * 2,): a lookup
        gathers from each with `take`, several times faster than a row gather from one (cells * 2, 3) array."""
        h = self.heights
        h00, h10, h01, h11 = h[:-1, :-1], h[1:, :-1], h[:-1, 1:], h[1:, 1:]

        def per_triangle(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:  # lower: tx >= ty, upper: tx < ty
            return np.stack([lower, upper], axis=-1).ravel()

        return per_triangle(h00, h00), per_triangle(h10 - h00, h11 - h01), per_triangle(h11 - h10, h01 - h00)

    def height_at(self, xy: np.ndarray) -> np.ndarray:
        """Ground height (m) under world points xy, (n, 2), exactly as MuJoCo collides with it: linear on the
        two triangles of each cell, split along its (0, 0)-(1, 1) diagonal; the plane's height off the field."""
        xy = np.asarray(xy, dtype=np.float64)
        if self.is_plane:
            return np.zeros(len(xy))
        if self._planes is None:
            self._planes = self._triangles()
        nx, ny = self.heights.shape
        fx, fy = xy[:, 0] / self.cell, xy[:, 1] / self.cell
        i = np.clip(fx.astype(np.int64), 0, nx - 2)  # truncation is floor for the points inside (fx >= 0)
        j = np.clip(fy.astype(np.int64), 0, ny - 2)
        tx, ty = fx - i, fy - j
        tri = ((i * (ny - 1) + j) << 1) + (tx < ty)
        a, bx, by = self._planes
        height = a.take(tri) + bx.take(tri) * tx + by.take(tri) * ty
        outside = (fx < 0) | (fy < 0) | (fx > nx - 1) | (fy > ny - 1)
        if outside.any():
            height[outside] = min(float(self.heights.min()), 0.0) - 0.01
        return height

    def tile_origin(self, level: np.ndarray, col: np.ndarray) -> np.ndarray:
        """World xy of the centres of tiles (level, col), (n, 2)."""
        if self.is_plane:
            return np.zeros((len(level), 2))
        offset = self.border * self.cell
        return np.stack([offset + (level + 0.5) * self.tile, offset + (col + 0.5) * self.tile], axis=1)
