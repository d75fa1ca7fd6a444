"""Where typer 0.29 is bent to wfe's needs, in one place. Each patch touches private names
new in 0.29, which is why pyproject.toml pins typer to 0.29.x; a typer without them keeps its
own behaviour, and tests/cli checks what each patch is for.
"""

from __future__ import annotations

from dataclasses import dataclass

import typer

from wfe.engine.inputs import parse_boolean


def apply() -> None:
    _coerce_plain_params_without_pydantic()
    _help_without_python_types()


def _coerce_plain_params_without_pydantic() -> None:
    """Recent typer coerces every non-bool parameter through a pydantic TypeAdapter, which
    costs ~40 ms of imports on every ``wfe`` call (a third of ``wfe ls --json``). Our
    parameters are plain str / int / float / list[str]: coerce those here, exactly as click
    would, and leave every other annotation to typer.

    typer offers no public hook for this (0.29 dropped ``click_type``; a ``parser`` goes
    through pydantic too), so this patches private names that came in 0.29: pyproject.toml
    pins typer to 0.29.x for that reason. A typer without them keeps its own behaviour;
    tests/cli checks that pydantic stays out and that bad numbers read as click's errors."""
    try:
        from typer._coercion import RuntimeParam
        from typer.core import _TyperParameter
    except ImportError:
        return
    original = _TyperParameter.get_runtime_param
    if original.__module__ == __name__:  # patched already (this module was reloaded)
        return

    @dataclass(frozen=True)
    class Plain(RuntimeParam):
        def _coerce_value(self, value, param, ctx):
            if isinstance(value, (list, tuple)):
                return [_plain_value(v, str, self.parameter_info) for v in value]
            return _plain_value(value, self.annotation, self.parameter_info)

    def get_runtime_param(self):
        d = self.type_descriptor
        if self._runtime_param is None and _is_plain(d):
            self._runtime_param = Plain(parameter_info=d.parameter_info, annotation=d.annotation)
        return original(self)

    # The patch itself, so mypy's rule against assigning to a method does not apply.
    _TyperParameter.get_runtime_param = get_runtime_param  # type: ignore[method-assign]


def _is_plain(d) -> bool:
    info = d.parameter_info
    if info.parser is not None or d.file_annotation is not None or getattr(info, "clamp", False):
        return False
    return d.annotation in (str, int, float, bool) or d.annotation == list[str]


def _plain_value(value, kind, info):
    if kind is str:
        return value if isinstance(value, str) else str(value)
    if kind is bool:
        if isinstance(value, str) and not value.strip():
            return False  # WFE_DEBUG= (set but empty) is off
        try:
            return parse_boolean(value)
        except ValueError:
            raise typer.BadParameter(f"{value!r} is not a valid boolean.") from None
    try:
        number = kind(value)
    except (TypeError, ValueError):
        name = "integer" if kind is int else "float"
        raise typer.BadParameter(f"{value!r} is not a valid {name}.") from None
    low, high = info.min, info.max
    if (low is not None and number < low) or (high is not None and number > high):
        parts = [f"x>={low}" if low is not None else "", f"x<={high}" if high is not None else ""]
        bounds = " and ".join(p for p in parts if p)
        raise typer.BadParameter(f"{number} is not in the range {bounds}.")
    return number


# What click itself calls these types in help: a person reads TEXT, not <str>.
_TYPE_WORDS = {"<str>": "TEXT", "<int>": "INTEGER", "<float>": "FLOAT",
               "<int range>": "INTEGER", "<float range>": "FLOAT", "<list[str]>": "TEXT"}


def _help_without_python_types() -> None:
    """typer 0.29 writes a Python type after every parameter in help: `--json <bool>`,
    `--status <str>`, `RUN <str>`. A plain flag takes no value, so it shows none; an
    argument's name says what it is; the other options show click's words (TEXT, INTEGER;
    the range of a number is still said after it)."""
    try:
        from typer.core import TyperArgument, TyperOption
    except ImportError:
        return
    option_type = TyperOption.display_type_rich
    if getattr(option_type, "__module__", None) == __name__:
        return

    def option_display_type(self, ctx):
        if self.is_flag or self.count:
            return None
        shown = option_type(self, ctx)
        return _TYPE_WORDS.get(shown, shown) if isinstance(shown, str) else shown

    def argument_display_type(self, ctx):
        return None

    # The patches themselves, so mypy's rule against assigning to a method does not apply.
    TyperOption.display_type_rich = option_display_type  # type: ignore[method-assign]
    TyperArgument.display_type_rich = argument_display_type  # type: ignore[method-assign]
