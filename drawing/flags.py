"""Command lines built from frozen config dataclasses: each default written once.

A field made with `flag` carries its flag's help and argparse settings, so
`parse` builds the parser from the dataclass and `--help` prints each default
from there. The dataclass checks itself in `__post_init__`; a ValueError there
becomes a usage error (exit status 2) of one line. Every command line of the
product is made this way (`python -m pipeline.main`, `trainer.task`,
`serving.serve`, ...).

Errors found while a command runs end it the same way everywhere: one line,
`<prog>: error: what is wrong: what to do`, on stderr, and exit status 1
(`one_line_errors`, `fail`); tests/test_commands.py holds every command to it.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn, TypeVar

from drawing import logs

T = TypeVar("T")
MISSING = dataclasses.MISSING


class InputError(ValueError):
    """Input a command cannot use: a missing file, a pattern that matches
    nothing, records that do not fit. The message is one line that names what
    to fix; the command prints it without a traceback and fails."""


def error_line(prog: str, problem: object) -> str:
    """`PROG: error: PROBLEM` on one line (a library's message over several
    lines is joined). `problem` says what is wrong, then what to do."""
    return f"{prog}: error: {' '.join(str(problem).split())}"


def fail(prog: str, problem: object) -> NoReturn:
    """Ends the command: its `error_line` on stderr, exit status 1."""
    sys.exit(error_line(prog, problem))


@contextlib.contextmanager
def one_line_errors(prog: str, *errors: type[Exception]) -> Iterator[None]:
    """Ends the command with `fail` on an InputError raised inside, or on one
    of `errors` (whose messages must say what to do too); anything else is a
    bug, and keeps its traceback."""
    try:
        yield
    except (InputError, *errors) as err:
        fail(prog, err)


@contextlib.contextmanager
def writing(flag: str, path: object) -> Iterator[None]:
    """Raises an InputError naming `flag` and `path` for an OSError inside:
    an output that cannot be written."""
    try:
        yield
    except OSError as err:
        raise InputError(
            f"{flag} {path} cannot be written ({err.strerror or err}): name a "
            "place you can write to"
        ) from None


def _not_installed(err: ImportError) -> InputError:
    return InputError(
        f"{err.name or err} is not installed: pip install '.[vertex]' (or run "
        "in the trainer image)"
    )


@contextlib.contextmanager
def google_cloud_errors(service: str) -> Iterator[None]:
    """Raises an InputError for what Google Cloud refuses inside (missing
    credentials, no access, a bad project), and for a missing client library.

    Args:
      service: What was asked, for the message (e.g. "Vertex AI").
    """
    try:
        from google.api_core.exceptions import GoogleAPIError
        from google.auth.exceptions import GoogleAuthError
    except ImportError as err:
        raise _not_installed(err) from None
    try:
        yield
    except ImportError as err:
        raise _not_installed(err) from None
    except GoogleAuthError as err:
        raise InputError(
            f"no usable Google Cloud credentials ({err}): run `gcloud auth "
            "application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS "
            "to a key file; --dry-run needs none"
        ) from None
    except GoogleAPIError as err:
        raise InputError(
            f"{service} refused the request ({err}): check --project, --region "
            "and your account's roles"
        ) from None


def flag(
    default: Any = dataclasses.MISSING,
    help: str = "",
    *,
    env: str | None = None,
    names: Sequence[str] = (),
    **argparse_kwargs: Any,
) -> Any:
    """A dataclass field that is also a flag.

    Args:
      default: The field's default, and the flag's.
      help: The flag's help; argparse adds the default to it.
      env: An environment variable whose value, when set, is the default
        (Vertex AI passes settings this way).
      names: The flag's spellings (default `--FIELD`); a name without a dash
        makes a positional argument.
      **argparse_kwargs: Anything else `add_argument` takes: type, choices,
        action, nargs, required.
    """
    metadata = {"help": help, "env": env, "names": tuple(names), **argparse_kwargs}
    return dataclasses.field(default=default, metadata={"flag": metadata})


def parse_bool(text: str) -> bool:
    """A flag's boolean value: 1/0, true/false, yes/no, on/off."""
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"not a boolean: {text!r}")


def switch(default: bool, help: str = "") -> Any:
    """A boolean flag: `--name`, `--name=true` or `--name=false`, as the
    tutorial's flags take them."""
    return flag(default, help, type=parse_bool, nargs="?", const=True)


def dry_run(help: str) -> Any:
    """`--dry-run` (or `--dry_run`): build and print what would be sent."""
    return flag(False, help, names=["--dry-run", "--dry_run"], action="store_true")


def passthrough(help: str) -> Any:
    """A field that takes every argument after `--`, unchanged, as a tuple."""
    return dataclasses.field(default=(), metadata={"passthrough": help})


def _passthrough_field(config: type) -> dataclasses.Field | None:
    """The field that takes the arguments after `--`, if `config` has one."""
    fields = dataclasses.fields(config)
    return next((f for f in fields if "passthrough" in f.metadata), None)


def split_passthrough(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the arguments before `--`, the ones after it)."""
    argv = list(argv)
    if "--" not in argv:
        return argv, []
    split = argv.index("--")
    return argv[:split], argv[split + 1 :]


class HelpFormatter(
    argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter
):
    """Keeps the description's layout and prints every default."""


def build_parser(
    config: type, prog: str, description: str = "", verbose: bool = True
) -> argparse.ArgumentParser:
    """One argument per `flag` field of `config`, plus `--verbose`."""
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=HelpFormatter
    )
    for field in dataclasses.fields(config):
        if "flag" not in field.metadata:
            continue
        kwargs = dict(field.metadata["flag"])
        env, names = kwargs.pop("env"), kwargs.pop("names") or (f"--{field.name}",)
        kwargs["help"] = kwargs["help"] or "(default: %(default)s)"
        default = field.default
        if env and os.environ.get(env):
            default = os.environ[env]  # argparse applies `type` to a str default
        # No default: a required flag, whose help shows none.
        kwargs["default"] = argparse.SUPPRESS if default is MISSING else default
        if names[0].startswith("-"):
            parser.add_argument(*names, dest=field.name, **kwargs)
        else:
            parser.add_argument(field.name, **kwargs)
    rest = _passthrough_field(config)
    if rest:
        parser.epilog = f"Arguments after `--`: {rest.metadata['passthrough']}."
    if verbose:
        parser.add_argument(
            logs.VERBOSE_FLAG, action="store_true", help=logs.VERBOSE_HELP
        )
    return parser


def parse(
    config: type[T],
    argv: Sequence[str] | None,
    prog: str,
    description: str = "",
    verbose: bool = True,
) -> T:
    """The command line `argv` (default sys.argv[1:]) as a `config` instance."""
    return _parse(config, argv, prog, description, verbose, False)[0]


def parse_known(
    config: type[T],
    argv: Sequence[str] | None,
    prog: str,
    description: str = "",
    verbose: bool = True,
) -> tuple[T, list[str]]:
    """As `parse`, and the arguments it does not know, e.g. for Beam's
    PipelineOptions."""
    return _parse(config, argv, prog, description, verbose, True)


def _parse(config, argv, prog, description, verbose, known):
    argv = list(sys.argv[1:] if argv is None else argv)
    rest = _passthrough_field(config)
    after: list[str] = []
    if rest:
        argv, after = split_passthrough(argv)
    parser = build_parser(config, prog, description, verbose)
    if known:
        namespace, unknown = parser.parse_known_args(argv)
    else:
        namespace, unknown = parser.parse_args(argv), []
    values = vars(namespace)
    values.pop("verbose", None)  # read by drawing.logs, not a setting
    if rest:
        values[rest.name] = tuple(after)
    try:
        return config(**values), unknown
    except ValueError as err:
        parser.error(str(err))
