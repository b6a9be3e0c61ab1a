"""What the three root scripts share around Hydra: output paths checked before Hydra makes them, and one exit
code for bad input (2), Hydra's own composition errors included (Hydra exits 1 on those). The bench scripts
answer bad input the same way (`positive`, `script`)."""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import typing
from collections.abc import Callable
from pathlib import Path

OUTPUT_KEYS = ("hydra.run.dir", "hydra.sweep.dir", "out")


def refuse_file_outputs(argv: list[str]) -> None:
    """An output directory named by an existing file: one line and exit 2, before Hydra tries to create it."""
    for arg in argv:
        key, sep, value = arg.lstrip("+").partition("=")
        if sep and key in OUTPUT_KEYS and value and Path(value).exists() and not Path(value).is_dir():
            print(f"error: {key}: '{value}' is a file; give a directory", file=sys.stderr)
            sys.exit(2)


def error_line(err: Exception, where: Path) -> str | None:
    """The one line a root script prints for an error it expects (bad input, no room to write), else None."""
    if isinstance(err, OSError) and not isinstance(err, FileNotFoundError):
        from common.io import no_room

        return no_room(err, where)
    return str(err)


def run(hydra_main: Callable[[], None], one_is_an_answer: Callable[[], bool] = lambda: False,
        groups: list[str] = ()) -> None:  # fmt: skip
    """Call a @hydra.main function; Hydra's exit 1 (a config it could not compose) becomes 2, unless the job
    itself answered 1 (a failed gate, a rejected artifact). New entries of `groups` (term_groups) may be
    added by their own dotted key (as_merge)."""
    refuse_file_outputs(sys.argv[1:])
    sys.argv[1:] = as_merge(sys.argv[1:], list(groups))
    try:
        hydra_main()
    except SystemExit as exit_:
        if exit_.code == 1 and not one_is_an_answer():
            sys.exit(2)
        raise


def positive(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    """An argparse type: a number of `kind` that is > 0 (steps, envs, seconds, episodes)."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text.replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not {'an integer' if kind is int else 'a number'}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{text}: must be > 0")
        return value

    return parse


def script(main: Callable[[], None], errors: tuple[type[BaseException], ...] = (ValueError, FileNotFoundError)) -> None:
    """Run a bench script's main: bad input it finds after parsing (a path that is not a policy) is one line on
    stderr and exit 2, as the root scripts answer it, not a traceback."""
    try:
        main()
    except errors as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


def term_groups(schema: type, prefix: str = "") -> list[str]:
    """Dotted paths of a structured config's dicts of structured configs (env.rewards, suite.scenarios, ...):
    the groups where a new entry must come in as a merge (`+env.rewards={name:{...}}`), as OmegaConf
    refuses a plain dict assigned to a new key there."""
    paths, hints = [], typing.get_type_hints(schema)
    for f in dataclasses.fields(schema):
        hint = hints[f.name]
        if typing.get_origin(hint) is dict and dataclasses.is_dataclass(typing.get_args(hint)[1]):
            paths.append(prefix + f.name)
        elif dataclasses.is_dataclass(hint):
            paths.extend(term_groups(hint, f"{prefix}{f.name}."))
    return paths


def as_merge(argv: list[str], groups: list[str]) -> list[str]:
    """`+env.curriculum.push_schedule={params:{...}}` (or `+...push_schedule.params.at_steps=6`) in the group
    form Hydra can add: `+env.curriculum={push_schedule:{params:{...}}}`, which merges into the group. Other
    arguments, and the values of a sweep (`a,b`, `choice(a,b)`, `range(1,4)`), are left as written."""
    out = []
    for arg in argv:
        key, sep, value = arg.partition("=")
        group = next((g for g in groups if key.startswith(f"+{g}.")), None) if not key.startswith("++") else None
        if group is None or not sep or _top_level_comma(value) or re.match(r"\w+\(", value):
            out.append(arg)
            continue
        nested = value
        for name in reversed(key[len(group) + 2 :].split(".")):
            nested = f"{{{name}:{nested}}}"
        out.append(f"+{group}={nested}")
    return out


def _top_level_comma(value: str) -> bool:
    """Whether a Hydra override value is a sweep's list (a comma outside brackets, braces and quotes)."""
    depth, quote = 0, ""
    for ch in value:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            return True
    return False
