"""What one expression may build: each value at most ``limit`` bytes, all of them a few times that.

The daemon evaluates expressions in its own process, so every operation that can make a large
string or list is checked *before* it allocates, from the sizes its arguments imply (a width,
a count times a length...). A result is then weighed once more, which catches what no
argument predicts (upper() of some letters grows). Sizes are estimates of the rendered text,
with a few bytes for each item of a list, so that a list of a million empty strings counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2.runtime import Undefined

MAX_EXPRESSION_BYTES = 1024 * 1024
# All the values one evaluation builds, together, may weigh this many times its limit.
WORK_FACTOR = 4
ITEM = 8  # what one item of a list or mapping adds to its weight, besides the item itself
MAX_INT_BITS = 1 << 16
_PRINTF = re.compile(
    r"%(?:\(([^)]*)\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?([diouxXeEfFgGcrsa%])"
)


class TooLarge(Exception):
    """An operation would build more than an expression may; not caught by jinja's filters."""

    def __init__(self, size: int, limit: int, total: bool = False, bits: bool = False) -> None:
        super().__init__(size, limit, total, bits)
        self.size, self.limit, self.total, self.bits = size, limit, total, bits

    def __str__(self) -> str:
        if self.bits:
            return f"it would build a number of about {self.size} bits, over {self.limit}"
        if self.total:
            return (f"it builds more than {self.limit} bytes in all "
                    f"({WORK_FACTOR} x max_expression_bytes)")
        return (f"it would build about {self.size} bytes, over the limit of {self.limit} "
                "(max_expression_bytes)")


@dataclass
class Budget:
    limit: int = MAX_EXPRESSION_BYTES
    spent: int = 0

    def allow(self, size: int) -> None:
        """Refuse a value of ``size`` before it is built, and count it as built."""
        if size > self.limit:
            raise TooLarge(size, self.limit)
        self.spent += size
        if self.spent > self.limit * WORK_FACTOR:
            raise TooLarge(self.spent, self.limit * WORK_FACTOR, total=True)


_BUDGET: ContextVar[Budget] = ContextVar("wfe_expression_budget")


def budget() -> Budget:
    got = _BUDGET.get(None)
    return got if got is not None else Budget()


def start(limit: int) -> Any:
    """A fresh budget for one evaluation; pass the token to finish()."""
    return _BUDGET.set(Budget(limit))


def finish(token: Any) -> None:
    _BUDGET.reset(token)


def weight(value: Any, cap: int | None = None) -> int:
    """About how many bytes ``value`` renders to; stops counting once past ``cap``."""
    cap = budget().limit if cap is None else cap
    total, stack = 0, [value]
    while stack and total <= cap:
        v = stack.pop()
        if isinstance(v, str):
            total += len(v)
        elif isinstance(v, bool) or v is None:
            total += 5
        elif isinstance(v, int):
            total += v.bit_length() // 3 + 1
        elif isinstance(v, float):
            total += 24
        elif isinstance(v, Undefined):
            total += 16
        elif isinstance(v, Mapping):
            total += 2 + ITEM * len(v)
            for k, item in v.items():
                stack += (k, item)
        elif isinstance(v, Iterable) and not isinstance(v, Iterator):
            items = list(v) if not isinstance(v, (list, tuple)) else v
            total += 2 + ITEM * len(items)
            stack.extend(items)
        else:
            total += 16
    return total


def settle(value: Any) -> Any:
    """A result made concrete and paid for: an iterator drawn into a list within the limit."""
    if isinstance(value, Iterator):
        return take(value)
    budget().allow(weight(value))
    return value


def take(items: Iterable[Any]) -> list[Any]:
    """``list(items)``, stopping with TooLarge as soon as the list would be over the limit."""
    b = budget()
    out, size = [], 2
    for item in items:
        size += ITEM + weight(item)
        if size > b.limit:
            raise TooLarge(size, b.limit)
        out.append(item)
    b.allow(size)
    return out


def concrete(value: Any) -> Any:
    """An argument whose items a filter will walk: drawn into a list if it is an iterator."""
    return take(value) if isinstance(value, Iterator) else value


def need(size: int) -> None:
    budget().allow(size)


def text_weight(value: Any) -> int:
    """About how long ``str(value)`` is."""
    return len(value) if isinstance(value, str) else 2 * weight(value) + 16


# -- operators ----------------------------------------------------------------------------


def check_binop(operator: str, left: Any, right: Any) -> None:
    if operator == "**" and isinstance(left, int) and isinstance(right, int):
        if abs(left) > 1 and right * left.bit_length() > MAX_INT_BITS:
            raise TooLarge(right * left.bit_length(), MAX_INT_BITS, bits=True)
    elif operator == "*":
        _check_times(left, right)
    elif operator == "+":
        if isinstance(left, (str, list, tuple)) and type(left) is type(right):
            need(weight(left) + weight(right))
    elif operator == "%" and isinstance(left, str):
        check_printf(left, right)


def _check_times(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int) and not isinstance(left, bool):
        bits = left.bit_length() + right.bit_length()
        if bits > MAX_INT_BITS:
            raise TooLarge(bits, MAX_INT_BITS, bits=True)
        return
    for seq, n in ((left, right), (right, left)):
        if isinstance(seq, (str, list, tuple)) and isinstance(n, int):
            need(weight(seq) * max(n, 0))


def check_concat(values: tuple[Any, ...]) -> None:
    need(sum(text_weight(v) for v in values))


def check_printf(fmt: str, args: Any) -> None:
    """``fmt % args``: widths and precisions are sizes too, and '*' would take one from args."""
    specs = _PRINTF.findall(fmt)
    size = len(fmt)
    for _key, width, precision, _conv in specs:
        if "*" in (width, precision):
            raise ValueError("'*' widths are not supported in expressions")
        size += int(width or 0) + int(precision or 0)
    if isinstance(args, Mapping):
        size += len(specs) * max((text_weight(v) for v in args.values()), default=0)
    elif isinstance(args, tuple):
        size += sum(text_weight(a) for a in args)
    else:
        size += text_weight(args)
    need(size)


def check_format(fmt: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """``fmt.format(...)``: each field may repeat the largest argument, padded to its width."""
    import string

    fields = list(string.Formatter().parse(fmt))
    values = [*args, *kwargs.values()]
    largest = max((text_weight(v) for v in values), default=0)
    size = len(fmt)
    for _text, name, spec, _conv in fields:
        if name is None:
            continue
        if spec and "{" in spec:
            raise ValueError("nested fields in a format spec are not supported in expressions")
        size += largest + sum(int(n) for n in re.findall(r"\d+", spec or ""))
    need(size)
