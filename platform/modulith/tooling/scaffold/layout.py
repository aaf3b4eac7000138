"""Generated code laid out the way the formatter (ruff, line length 100) lays it out."""

from collections.abc import Iterable, Sequence

LINE_LENGTH = 100


def call(indent: int, head: str, arguments: Sequence[str], tail: str = "") -> str:
    """`head(arguments)tail` on one line when it fits, else one argument a line, the way the
    formatter lays it out (the trailing comma keeps it so)."""
    pad = " " * indent
    line = f"{pad}{head}({', '.join(arguments)}){tail}"
    if len(line) <= LINE_LENGTH:
        return line
    return f"{pad}{head}(\n{one_a_line(arguments, pad + '    ')}{pad}){tail}"


def keyword_mapping(keyword: str, entries: Sequence[str]) -> str:
    """A manifest's `keyword={...},` line: one entry that fits on one line, else one a line."""
    line = f"    {keyword}={{{entries[0]}}},\n"
    if len(entries) == 1 and len(line) <= LINE_LENGTH + 1:
        return line
    return f"    {keyword}={{\n{one_a_line(entries, ' ' * 8)}    }},\n"


def one_a_line(items: Iterable[str], pad: str) -> str:
    """The items of a bracketed literal, one a line, each with its trailing comma."""
    return "".join(f"{pad}{item},\n" for item in items)
