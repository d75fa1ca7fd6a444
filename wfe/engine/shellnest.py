"""Expressions that land in a command some program runs through an interpreter again.

wfe quotes each value for the shell that runs a ``run:`` string, so that shell reads the value
as one word. But ``sh -c "echo ${{ input.x }}"``, ``ssh host "rm ${{ input.x }}"``, ``eval``,
``python -c`` and the like hand that word to a second interpreter, which reads it as code:
the quoting protected only the first. This module finds those places (to warn, not refuse:
the author may know the value is safe) from the template's literal text alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from wfe.engine.expr_syntax import Expr, ExpressionError, split_text

SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "fish", "busybox"})
# An interpreter, and the options whose next word is a program it runs.
_CODE_OPTIONS = (
    (re.compile(r"python[0-9.]*|pypy[0-9.]*"), re.compile(r"-[A-Za-z]*c")),
    (re.compile(r"perl|ruby"), re.compile(r"-[A-Za-z]*[eE]")),
    (re.compile(r"node|nodejs|deno|bun"), re.compile(r"-e|--eval|-p|--print|eval")),
    (re.compile(r"php"), re.compile(r"-r")),
    (re.compile(r"lua[0-9.]*|Rscript|osascript|tclsh"), re.compile(r"-e")),
)
_STDIN_READERS = SHELLS | {"python", "python3", "perl", "ruby", "node", "php"}
_AWKS = frozenset({"awk", "gawk", "mawk", "nawk"})
# Commands that run the rest of their words as a command: skip them (and their options).
_WRAPPERS = {"sudo": 0, "doas": 0, "env": 0, "nice": 0, "nohup": 0, "exec": 0, "command": 0,
             "builtin": 0, "time": 0, "setsid": 0, "stdbuf": 0, "ionice": 0, "xargs": 0,
             "strace": 0, "nsenter": 0, "unshare": 0, "timeout": 1, "chroot": 1, "taskset": 1}
_KEYWORDS = frozenset({"if", "then", "else", "elif", "do", "while", "until", "!", "{", "time"})
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_SSH_ARG_OPTIONS = frozenset("BbcDEeFIiJLlmOoPpQRSWw")


@dataclass
class Word:
    text: str = ""  # the literal text with quotes removed; each expression reads as \0
    exprs: list[str] = field(default_factory=list)


@dataclass
class Command:
    words: list[Word]
    pipeline: int  # commands joined by | share this number
    piped: bool  # its stdin is the previous command's output


def nested(run: Any) -> list[tuple[str, str]]:
    """(expression, the program that runs it again) for each expression a second interpreter
    reads, in a ``run:`` shell string or argv list."""
    if isinstance(run, str):
        try:
            commands = _Lexer().commands(split_text(run))
        except ExpressionError:
            return []  # check() reports it
    elif isinstance(run, list):
        commands = [Command([_argv_word(a) for a in run], 0, False)]
    else:
        return []
    found: dict[tuple[str, str], None] = {}
    for i, cmd in enumerate(commands):
        for words, program in _nested_words(cmd, commands[:i]):
            for word in words:
                for source in word.exprs:
                    found[(source, program)] = None
    return list(found)


def _argv_word(arg: Any) -> Word:
    word = Word()
    if not isinstance(arg, str):
        word.text = str(arg)
        return word
    for piece in split_text(arg):
        word.text += piece if isinstance(piece, str) else "\0"
        if isinstance(piece, Expr):
            word.exprs.append(piece.source)
    return word


def _name(word: Word) -> str:
    return word.text.rsplit("/", 1)[-1]


def _nested_words(cmd: Command, before: list[Command]) -> list[tuple[list[Word], str]]:
    words, out = cmd.words, []
    for j, word in enumerate(words):  # anywhere: sudo, xargs, docker exec, find -exec...
        script = _code_operand(words, j)
        if script is not None:
            out.append(([words[script]], _name(word)))
    c = _command_index(words)
    if c is None:
        return out
    name, rest = _name(words[c]), words[c + 1 :]
    if name in ("eval", "watch"):
        out.append((rest, name))
    elif name in ("su", "runuser"):
        out.append(([w for k, w in enumerate(rest) if w.text.startswith("--command=")
                     or (k and rest[k - 1].text in ("-c", "--command"))], name))
    elif name == "ssh":
        remote = _ssh_remote(rest)
        out.append((remote, "ssh"))
        if not remote and cmd.piped:
            out.append((_upstream(cmd, before), "ssh"))
    elif name in _AWKS:
        out.append((_awk_program(rest), name))
    elif name in _STDIN_READERS and cmd.piped and all(w.text in ("-", "-s") for w in rest):
        out.append((_upstream(cmd, before), name))
    return out


def _code_operand(words: list[Word], j: int) -> int | None:
    """The index of the program text when words[j] is an interpreter given one inline."""
    name = _name(words[j])
    if name in SHELLS:
        k = j + 1
        has_c = False
        while k < len(words) and words[k].text[:1] in ("-", "+") and words[k].text != "--":
            has_c |= not words[k].text.startswith("--") and "c" in words[k].text
            k += 1
        return k if has_c and k < len(words) else None
    for program, option in _CODE_OPTIONS:
        if program.fullmatch(name):
            for k in range(j + 1, len(words) - 1):
                if option.fullmatch(words[k].text):
                    return k + 1
                if not words[k].text.startswith("-"):
                    return None  # a script file: what follows are its arguments
    return None


def _command_index(words: list[Word]) -> int | None:
    i = 0
    while i < len(words):
        text = words[i].text
        if text in _KEYWORDS or _ASSIGNMENT.match(text):
            i += 1
        elif _name(words[i]) in _WRAPPERS:
            skip = _WRAPPERS[_name(words[i])]
            i += 1
            while i < len(words) and words[i].text.startswith("-"):
                i += 1
            i += skip
        else:
            return i
    return None


def _ssh_remote(rest: list[Word]) -> list[Word]:
    k = 0
    while k < len(rest) and rest[k].text.startswith("-"):
        opt = rest[k].text
        k += 2 if len(opt) == 2 and opt[1] in _SSH_ARG_OPTIONS else 1
    return rest[k + 1 :]  # after the host


def _awk_program(rest: list[Word]) -> list[Word]:
    k = 0
    while k < len(rest) and rest[k].text.startswith("-"):
        opt = rest[k].text
        if opt.startswith("-f") or opt == "--":
            return []
        k += 2 if opt in ("-F", "-v") else 1
    return rest[k : k + 1]


def _upstream(cmd: Command, before: list[Command]) -> list[Word]:
    """The words of the commands that feed ``cmd`` through a pipe."""
    return [w for c in before if c.pipeline == cmd.pipeline for w in c.words]


@dataclass
class _Frame:
    kind: str = "top"  # top, cmd for $(...), backtick
    state: str = "outside"  # outside, single, double, comment
    words: list[Word] = field(default_factory=list)
    word: Word | None = None
    depth: int = 0
    piped: bool = False
    redirect: bool = False  # the next word is a redirection's target, not an argument


class _Lexer:
    """Just enough of sh to see commands, words and pipes; quoting as in POSIX sh."""

    def __init__(self) -> None:
        self.frames = [_Frame()]
        self.out: list[Command] = []
        self.pipeline = 0

    def commands(self, pieces: tuple[str | Expr, ...]) -> list[Command]:
        for piece in pieces:
            if isinstance(piece, Expr):
                self._expr(piece.source)
            else:
                i = 0
                while i < len(piece):
                    i = self._char(piece, i)
        while self.frames:
            self._end_command(False)
            self.frames.pop()
        return self.out

    def _expr(self, source: str) -> None:
        frame = self.frames[-1]
        if frame.state != "comment":
            word = self._word(frame)
            word.text += "\0"
            word.exprs.append(source)

    def _word(self, frame: _Frame) -> Word:
        if frame.word is None:
            frame.word = Word()
        return frame.word

    def _end_word(self, frame: _Frame) -> None:
        if frame.word is not None:
            if frame.redirect:
                frame.redirect = False
            else:
                frame.words.append(frame.word)
            frame.word = None

    def _end_command(self, piped: bool) -> None:
        frame = self.frames[-1]
        self._end_word(frame)
        if frame.words:
            self.out.append(Command(frame.words, self.pipeline, frame.piped))
        frame.words, frame.piped = [], piped
        if not piped:
            self.pipeline += 1

    def _push(self, kind: str) -> None:
        self._word(self.frames[-1]).text += "$"  # the substitution's output joins the word
        self.frames.append(_Frame(kind))

    def _pop(self) -> None:
        self._end_command(False)
        self.frames.pop()

    def _char(self, t: str, i: int) -> int:
        frame, c = self.frames[-1], t[i]
        if frame.state == "comment":
            if c == "\n":
                frame.state = "outside"
                self._end_command(False)
            return i + 1
        if frame.state == "single":
            if c == "'":
                frame.state = "outside"
            else:
                self._word(frame).text += c
            return i + 1
        if c == "\\":
            self._word(frame).text += t[i + 1 : i + 2]
            return i + 2
        if c == "`":
            if frame.kind == "backtick":
                self._pop()
            else:
                self._push("backtick")
            return i + 1
        if t.startswith("$(", i):
            self._push("cmd")
            return i + 2
        if frame.state == "double":
            if c == '"':
                frame.state = "outside"
            else:
                self._word(frame).text += c
            return i + 1
        return self._outside(t, i, frame)

    def _outside(self, t: str, i: int, frame: _Frame) -> int:
        c = t[i]
        if c in " \t":
            self._end_word(frame)
        elif c == "#" and frame.word is None:
            frame.state = "comment"
        elif c in "'\"":
            self._word(frame)
            frame.state = "single" if c == "'" else "double"
        elif c == "|":
            double = t.startswith("||", i)
            self._end_command(not double)
            return i + 1 + double
        elif c in "\n;&(":
            frame.depth += c == "(" and frame.kind == "cmd"
            self._end_command(False)
        elif c == ")":
            if frame.kind == "cmd" and not frame.depth:
                self._pop()
            else:
                frame.depth = max(frame.depth - 1, 0)
                self._end_command(False)
        elif c in "<>":
            if frame.word is not None and frame.word.text.isdigit():
                frame.word = None  # the 2 of 2>
            self._end_word(frame)
            frame.redirect = True
            return i + 2 if t.startswith(("<&", ">&", ">>", ">|"), i) else i + 1
        else:
            self._word(frame).text += c
        return i + 1
