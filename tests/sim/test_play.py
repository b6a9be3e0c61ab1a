"""play.py: the Player under scripted commands, keys and pushes with the release policy (a walking bundle),
the browser viewer driven by a real headless Chromium, and the root script."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from sim.play import KEYS, Player, run_script
from sim.policy import load_policy
from tests.conftest import REPO
from tests.conftest import run_script as run_root

WALKER = REPO / "tests" / "fixtures" / "walking_quadruped"
CHROMIUM = os.environ.get("LOCOFORGE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]  # fmt: skip


@pytest.fixture(scope="module")
def walker():
    return load_policy(WALKER)


def test_the_robot_follows_scripted_commands(walker):
    rows = run_script(Player(walker), [[1.0, 0, 0, 0], [4.0, 0.5, 0, 0], [4.0, 0, 0.3, 0], [4.0, 0, 0, 0]])
    assert [r["falls"] for r in rows] == [0, 0, 0, 0]
    forward, lateral, stand = (np.array(r["measured"]) for r in rows[1:])
    assert forward[0] == pytest.approx(0.5, abs=0.1) and abs(forward[1]) < 0.1
    assert lateral[1] == pytest.approx(0.3, abs=0.1) and abs(lateral[0]) < 0.1
    assert np.abs(stand).max() < 0.1


def test_keys_nudge_the_command_within_the_trained_ranges_and_push_and_reset_work(walker):
    player = Player(walker)
    up = next(k for k, v in KEYS.items() if v == ("vx", 0.1))
    for _ in range(15):
        player.nudge(*KEYS[up])
    assert player.command[0] == pytest.approx(player.limits["vx"][1])  # 1.0: clipped to what the policy learned
    player.set_command(0.0, 0.0, 0.0)
    for _ in range(50):
        player.step()
    player.push(0.8)
    kicked = max(abs(player.step().measured[1]) for _ in range(3))
    assert kicked > 0.3  # the base moves sideways after the kick
    for _ in range(100):
        player.step()
    assert player.falls == 0 and abs(player.history[-1].measured[1]) < 0.1  # and recovers
    before = player.task.qpos[0, :2].copy()
    player.set_command(0.5, 0, 0)
    for _ in range(50):
        player.step()
    player.reset()
    assert np.abs(player.task.qpos[0, :2]).max() < np.abs(player.task.qpos[0, :2] - before).max() + 0.5


def test_the_browser_viewer_drives_the_robot_from_a_real_headless_chromium(walker, tmp_path):
    """Serve the page, open it in Chromium, move the vx slider by keyboard, and see the robot follow."""
    from playwright.sync_api import sync_playwright

    from sim.play_browser import BrowserView

    assert Path(CHROMIUM).is_file(), f"{CHROMIUM} missing: .ci/run installs Debian's chromium"
    player = Player(walker)
    view = BrowserView(player, port=0).start()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            page.goto(f"http://127.0.0.1:{view.port}")
            page.wait_for_selector("[role=slider]", timeout=60_000)
            sliders = page.get_by_role("slider")
            assert sliders.count() == 4  # vx, vy, yaw rate, speed
            sliders.nth(0).focus()
            for _ in range(10):  # 10 steps of 0.05
                page.keyboard.press("ArrowRight")
            deadline = time.time() + 10
            while player.command[0] != pytest.approx(0.5) and time.time() < deadline:
                time.sleep(0.1)
            start = player.t
            while player.t < start + 4.0 and time.time() < deadline + 30:
                time.sleep(0.2)
            page.screenshot(path=str(tmp_path / "play_browser.png"))
            browser.close()
    finally:
        view.stop()
    artifacts = os.environ.get("LOCOFORGE_TEST_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp_path / "play_browser.png", Path(artifacts) / "play_browser.png")
    assert player.command[0] == pytest.approx(0.5)
    last = [r.measured[0] for r in player.history if r.t > player.t - 2.0]
    assert np.mean(last) == pytest.approx(0.5, abs=0.1) and player.falls == 0
    assert (tmp_path / "play_browser.png").stat().st_size > 10_000


def test_play_py_headless():
    done = run_root("play.py", f"policy={WALKER}", "viewer=headless", "script=[[2.0,0.5,0.0,0.0]]", timeout=300)
    assert done.returncode == 0, done.stderr
    assert "command (+0.50, +0.00, +0.00)  measured (+0.4" in done.stdout or "measured (+0.5" in done.stdout
    bad = run_root("play.py", f"policy={WALKER}", "viewer=vr", timeout=300)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1] == (
        "error: viewer: unknown 'vr'; accepted: window, browser, headless"
    )


@pytest.mark.parametrize("fields,expected", [
    ({"viewer": "headless"}, "policy: missing; give policy=<run_dir> (train.py) or policy=<bundle_dir> (export.py)"),
    ({"policy": str(WALKER), "robot": "biped", "viewer": "headless"}, "robot: biped's joints ['left_hip_yaw', "),
    ({"policy": str(WALKER), "viewer": "headless", "script": [[0, 1, 0, 0]]}, "script: give [[seconds > 0, vx, vy, "),
])  # fmt: skip
def test_bad_input_is_one_line(fields, expected):
    from sim.config import PlayConfig
    from sim.play import main

    with pytest.raises(ValueError) as err:
        main(PlayConfig(**fields))
    assert str(err.value).startswith(expected) and "\n" not in str(err.value)


def test_gamepad_sticks_map_to_the_trained_command_ranges():
    from sim.play import gamepad_command

    limits = {"vx": [-1.0, 1.0], "vy": [-0.75, 0.75], "yaw_rate": [-1.0, 1.0]}
    assert gamepad_command([0.0, -1.0, 0.0, 0.0], limits) == (1.0, 0.0, 0.0)  # left stick fully up: full forward
    assert gamepad_command([-0.5, 0.0, 0.0, 0.0], limits) == (0.0, 0.375, 0.0)  # half left: half the vy range
    assert gamepad_command([0.05, 0.05, 0.0, 1.0], limits) == (
        0.0,
        0.0,
        -1.0,
    )  # dead zone; right stick right turns right
    assert gamepad_command([0.0, 0.5], {"vx": [-0.5, 1.0], "vy": [-0.3, 0.3], "yaw_rate": [-1.0, 1.0]}) == (
        -0.25,
        0.0,
        0.0,
    )
