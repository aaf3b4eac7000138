"""Adding a manifest to the settings' MODULITH_MANIFESTS: text in, text out, checked by
parsing the result."""

import ast
import json

from modulith.scaffold.errors import ScaffoldError
from modulith.scaffold.layout import one_a_line


def add_manifest(source: str, manifest: str, *, create: bool = False) -> str:
    """Settings source with `manifest` appended to the MODULITH_MANIFESTS list literal; when
    the settings have no such list and `create`, with one made for it at their end."""
    if create and not _assigned(source):
        edited = (
            source.rstrip("\n")
            + "\n\n# The project's modules (docs/adopting.md).\n"
            + f"MODULITH_MANIFESTS = [\n    {json.dumps(manifest)},\n]\n"
        )
        if ast.literal_eval(_manifests_node(edited)) != [manifest]:
            raise ScaffoldError(f"could not add {manifest} to MODULITH_MANIFESTS: add it by hand")
        return edited
    node = _manifests_node(source)
    current = ast.literal_eval(node)
    if manifest in current:
        return source
    lines = source.splitlines(keepends=True)
    end_line = node.end_lineno or node.lineno
    last = node.elts[-1] if node.elts else None
    if last and end_line > node.lineno and lines[end_line - 1].strip().startswith("]"):
        # One entry a line, the bracket on its own: a new line before the bracket.
        line, column = (last.end_lineno or last.lineno) - 1, last.end_col_offset or 0
        if not lines[line][column:].lstrip().startswith(","):
            lines[line] = f"{lines[line][:column]},{lines[line][column:]}"
        lines.insert(end_line - 1, f"{' ' * last.col_offset}{json.dumps(manifest)},\n")
        edited = "".join(lines)
    else:
        items = one_a_line(map(json.dumps, [*current, manifest]), "    ")
        start = sum(len(line) for line in lines[: node.lineno - 1]) + node.col_offset
        end = sum(len(line) for line in lines[: end_line - 1]) + (node.end_col_offset or 0)
        edited = f"{source[:start]}[\n{items}]{source[end:]}"
    if ast.literal_eval(_manifests_node(edited)) != [*current, manifest]:
        raise ScaffoldError(f"could not add {manifest} to MODULITH_MANIFESTS: add it by hand")
    return edited


def _assigned(source: str) -> bool:
    """Whether the settings assign MODULITH_MANIFESTS at all."""
    return any(
        isinstance(target, ast.Name) and target.id == "MODULITH_MANIFESTS"
        for statement in ast.parse(source).body
        for target in (
            statement.targets
            if isinstance(statement, ast.Assign)
            else [statement.target]
            if isinstance(statement, ast.AnnAssign | ast.AugAssign)
            else []
        )
    )


def _manifests_node(source: str) -> ast.List:
    for statement in ast.parse(source).body:
        target = value = None
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target, value = statement.targets[0], statement.value
        elif isinstance(statement, ast.AnnAssign):
            target, value = statement.target, statement.value
        if isinstance(target, ast.Name) and target.id == "MODULITH_MANIFESTS":
            if isinstance(value, ast.List) and all(
                isinstance(item, ast.Constant) and isinstance(item.value, str)
                for item in value.elts
            ):
                return value
            break
    raise ScaffoldError(
        "the settings have no MODULITH_MANIFESTS = [...] list of strings: add the settings of "
        "docs/settings.md (or the manifest by hand)"
    )
