"""Where a value lands in a shell command, and how to quote it for that place.

The context of each expression depends only on the template's literal text, so the
template check can refuse the places no quoting makes safe when the template is saved,
not mid-run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_BOUNDARY = frozenset(" \t\n;&|()<>")
_HEREDOC_WORD = re.compile(r"""(?:[^\s;&|<>()'"\\]|\\.|'[^']*'|"(?:[^"\\]|\\.)*")+""", re.S)
_DQ_SPECIAL = re.compile(r'[\\"$`]')
_BACKSLASH = "a backslash right before an expression would escape the value's first character"
_DOLLAR = "a '$' right before an expression would join the value; write '\\$' for a literal $"
_NO_QUOTING = {
    "backtick": "inside `...` (use $(...) instead)",
    "param": "inside ${...}",
    "arith": "inside $((...))",
}


class ShellContextError(ValueError):
    """An expression sits where no quoting makes its value arrive intact."""


@dataclass
class _Frame:
    kind: str  # "top", "cmd" for $(...), "param" for ${...}, "arith" for $((...)), "backtick"
    state: str = "outside"  # top and cmd: outside, single, double, comment, or ansi for $'...'
    depth: int = 0  # parentheses (or ${) opened inside this frame and not yet closed


class ShellScanner:
    """Follows POSIX sh quoting through a command's literal text, one piece at a time."""

    def __init__(self) -> None:
        self.frames = [_Frame("top")]
        self.word_start = True  # so '#' here would start a comment
        self.word: str | None = ""  # the plain word being read (None once quoted or expanded)
        self.heredocs: list[tuple[str, bool]] = []  # announced by <<, bodies not reached yet
        self.heredoc: tuple[str, bool] | None = None  # (delimiter, strip tabs) of the open body
        self.line = ""
        self.confused = ""  # something after which the quoting state cannot be trusted
        self.dangling = ""  # why the text just fed cannot be followed directly by a value

    def feed(self, text: str) -> None:
        self.dangling = ""
        i = 0
        while i < len(text):
            i = self._heredoc_line(text, i) if self.heredoc else self._step(text, i)

    def after_value(self) -> None:
        self.dangling = ""
        self.word_start, self.word = False, None

    def context(self) -> str:
        """Where a value spliced in now would land: outside, single, double or comment."""
        if self.confused:
            raise ShellContextError(
                f"cannot tell how the shell reads text after {self.confused}; pass values in env:"
            )
        if self.heredoc:
            raise ShellContextError(
                "a value inside a heredoc cannot be quoted; put it in env: and write $NAME there"
            )
        if self.dangling:
            raise ShellContextError(self.dangling)
        frame = self.frames[-1]
        reason = _NO_QUOTING.get(frame.kind) or ("inside $'...'" if frame.state == "ansi" else "")
        if reason:
            raise ShellContextError(f"a value cannot be quoted {reason}; put it in env: instead")
        return frame.state

    def _step(self, t: str, i: int) -> int:
        frame = self.frames[-1]
        name = "_" + frame.state if frame.kind in ("top", "cmd") else "_in_" + frame.kind
        handler: Callable[[str, int, _Frame], int] = getattr(self, name)
        return handler(t, i, frame)

    def _push(self, kind: str) -> None:
        self.frames.append(_Frame(kind))
        self.word_start, self.word = True, ""

    def _pop(self) -> None:
        self.frames.pop()
        self.word_start, self.word = False, None

    def _escape(self, t: str, i: int) -> int:
        if i + 1 == len(t):
            self.dangling = _BACKSLASH
        return i + 2

    def _end_word(self) -> None:
        # A case pattern's unbalanced ')' would close $( early in our count; give up instead.
        if self.word == "case" and any(f.kind == "cmd" for f in self.frames):
            self.confused = "a case statement inside $(...)"
        self.word = ""

    def _newline(self) -> None:
        self.word_start, self.word = True, ""
        if self.heredocs and not self.heredoc:
            self.heredoc, self.line = self.heredocs.pop(0), ""

    def _outside(self, t: str, i: int, frame: _Frame) -> int:
        c = t[i]
        if c in _BOUNDARY:
            return self._boundary(t, i, frame)
        at_start, self.word_start = self.word_start, False
        if c == "#" and at_start:
            frame.state = "comment"
        elif c in "\\'\"`$":
            self.word = None
            if c == "\\":
                return self._escape(t, i)
            if c == "$":
                return self._dollar(t, i, frame)
            if c == "`":
                self._push("backtick")
            else:
                frame.state = "single" if c == "'" else "double"
        elif self.word is not None:
            self.word += c
        return i + 1

    def _boundary(self, t: str, i: int, frame: _Frame) -> int:
        c = t[i]
        self._end_word()
        self.word_start = True
        if c == "\n":
            self._newline()
        elif c == "(" and frame.kind == "cmd":
            frame.depth += 1
        elif c == ")" and frame.kind == "cmd":
            if not frame.depth:
                self._pop()
            frame.depth = max(frame.depth - 1, 0)
        elif t.startswith("<<<", i):
            return i + 3
        elif t.startswith("<<", i):
            return self._heredoc_operator(t, i)
        return i + 1

    def _single(self, t: str, i: int, frame: _Frame) -> int:
        j = t.find("'", i)
        if j < 0:
            return len(t)
        frame.state = "outside"
        return j + 1

    def _double(self, t: str, i: int, frame: _Frame) -> int:
        c = t[i]
        if c == "\\":
            return self._escape(t, i)
        if c == '"':
            frame.state = "outside"
        elif c == "`":
            self._push("backtick")
        elif c == "$":
            return self._dollar(t, i, frame)
        return i + 1

    def _comment(self, t: str, i: int, frame: _Frame) -> int:
        j = t.find("\n", i)
        if j < 0:
            return len(t)
        frame.state = "outside"
        self._newline()
        return j + 1

    def _ansi(self, t: str, i: int, frame: _Frame) -> int:
        if t.startswith("\\'", i):
            self.confused = "$'...' holding \\' (sh and bash read it differently)"
        if t[i] == "\\":
            return self._escape(t, i)
        if t[i] == "'":
            frame.state = "outside"
        return i + 1

    def _dollar(self, t: str, i: int, frame: _Frame) -> int:
        if i + 1 == len(t):
            self.dangling = _DOLLAR
            return i + 1
        if t.startswith("$((", i):
            self._push("arith")
            return i + 3
        nxt = t[i + 1]
        if nxt in "({":
            self._push("cmd" if nxt == "(" else "param")
            return i + 2
        if nxt == "'" and frame.state == "outside" and frame.kind in ("top", "cmd"):
            frame.state = "ansi"
            return i + 2
        return i + 1

    def _in_backtick(self, t: str, i: int, frame: _Frame) -> int:
        if t[i] == "\\":
            return self._escape(t, i)
        if t[i] == "`":
            self._pop()
        return i + 1

    def _in_param(self, t: str, i: int, frame: _Frame) -> int:
        c = t[i]
        if c == "\\":
            return self._escape(t, i)
        if c in "'\"`" or t.startswith("$(", i):
            self.confused = "quotes or $(...) inside ${...}"
        elif t.startswith("${", i):
            frame.depth += 1
            return i + 2
        elif c == "$" and i + 1 == len(t):
            self.dangling = _DOLLAR
        elif c == "}":
            if not frame.depth:
                self._pop()
            frame.depth = max(frame.depth - 1, 0)
        return i + 1

    def _in_arith(self, t: str, i: int, frame: _Frame) -> int:
        c = t[i]
        if c == "(":
            frame.depth += 1
        elif c == ")":
            if frame.depth:
                frame.depth -= 1
            elif t.startswith("))", i):
                self._pop()
                return i + 2
            else:
                self.confused = "a $(( that is not arithmetic"
        elif c in "'\"`\\":
            self.confused = "quotes inside $((...))"
        elif c == "$":
            return self._dollar(t, i, frame)
        return i + 1

    def _heredoc_operator(self, t: str, i: int) -> int:
        j = i + 2
        strip = t.startswith("-", j)
        j += strip
        while j < len(t) and t[j] in " \t":
            j += 1
        m = _HEREDOC_WORD.match(t, j)
        if m is None or m.end() == len(t):
            # The delimiter word would run on into a value spliced in next.
            self.dangling = "an expression cannot be part of a heredoc delimiter"
        if m is None:
            return j
        self.heredocs.append((re.sub(r"""["'\\]""", "", m.group()), strip))
        self.word_start, self.word = False, None
        return m.end()

    def _heredoc_line(self, t: str, i: int) -> int:
        assert self.heredoc is not None
        delimiter, strip = self.heredoc
        j = t.find("\n", i)
        if j < 0:
            self.line += t[i:]
            return len(t)
        line, self.line = self.line + t[i:j], ""
        if (line.lstrip("\t") if strip else line) == delimiter:
            self.heredoc = self.heredocs.pop(0) if self.heredocs else None
        return j + 1


def quote_for(value: str, where: str) -> str:
    """``value`` written so that, at a place in state ``where``, the shell reads exactly it."""
    if where == "single":
        return value.replace("'", "'\"'\"'")
    if where == "double":
        return _DQ_SPECIAL.sub(r"\\\g<0>", value)
    if where == "comment":
        return value.replace("\n", " ")  # the rest of a comment is ignored, but a newline ends it
    # Always quoted, unlike shlex.quote: a bare word could meet ~, {a,b} or a leading NAME=.
    return "'" + value.replace("'", "'\"'\"'") + "'"
