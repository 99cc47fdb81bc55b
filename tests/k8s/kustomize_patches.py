"""Apply kustomize patches: strategic-merge patches and JSON6902 (RFC 6902) operations.

Only the parts of each format that this repository's manifests use are implemented:

* Strategic merge: maps merge recursively; a `null` value deletes the key; `$patch: replace`
  in a map replaces it whole; lists of known Kubernetes types merge by their merge key
  (containers and volumes by `name`, container ports by `containerPort`, Service ports by
  `port`, volume mounts by `mountPath`, env by `name`), and an item with `$patch: delete`
  removes the matching item. Every other list is replaced whole, as Kubernetes does for
  lists without a patch merge key (Ingress rules, NetworkPolicy peers, args).
* JSON6902: `add`, `remove` and `replace` with RFC 6901 pointers (`-` appends). `move`,
  `copy` and `test` are rejected rather than silently ignored.
"""

from __future__ import annotations

import copy
from typing import Any

# Field name -> merge key, as declared by `patchMergeKey` in the Kubernetes API types.
_MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "env": "name",
    "imagePullSecrets": "name",
    "tolerations": "key",
}
_CONTAINER_LISTS = frozenset({"containers", "initContainers", "ephemeralContainers"})


class PatchError(ValueError):
    """A patch that cannot be applied to its target."""


def strategic_merge(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Return `target` with the strategic-merge `patch` applied; neither input is changed."""
    return _merge_map(copy.deepcopy(target), patch, parent_field="")


def _merge_map(target: dict[str, Any], patch: dict[str, Any], parent_field: str) -> dict[str, Any]:
    if patch.get("$patch") == "replace":
        return {key: copy.deepcopy(value) for key, value in patch.items() if key != "$patch"}
    for key, value in patch.items():
        if key == "$patch":
            continue
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            target[key] = _merge_map(target[key], value, parent_field=key)
        elif isinstance(value, list) and isinstance(target.get(key), list):
            target[key] = _merge_list(target[key], value, key, parent_field)
        else:
            target[key] = _strip_directives(copy.deepcopy(value))
    return target


def _merge_key(field: str, parent_field: str) -> str | None:
    if field == "ports":
        # A container's ports merge on containerPort, a Service's on port.
        return "containerPort" if parent_field in _CONTAINER_LISTS else "port"
    return _MERGE_KEYS.get(field)


def _merge_list(target: list[Any], patch: list[Any], field: str, parent_field: str) -> list[Any]:
    merge_key = _merge_key(field, parent_field)
    if merge_key is None or not all(isinstance(item, dict) for item in target + patch):
        return _strip_directives(copy.deepcopy(patch))  # type: ignore[no-any-return]
    merged = list(target)
    for item in patch:
        if merge_key not in item:
            raise PatchError(f"list item {item!r} has no merge key {merge_key!r}")
        index = next(
            (i for i, old in enumerate(merged) if old.get(merge_key) == item[merge_key]), None
        )
        if item.get("$patch") == "delete":
            if index is not None:
                del merged[index]
        elif index is None:
            merged.append(_strip_directives(copy.deepcopy(item)))
        else:
            # Items take the list's field name as parent: a container's `ports` then merge
            # on containerPort.
            merged[index] = _merge_map(merged[index], item, parent_field=field)
    return merged


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if k != "$patch"}
    if isinstance(value, list):
        return [_strip_directives(item) for item in value]
    return value


def apply_json6902(target: dict[str, Any], operations: list[dict[str, Any]]) -> dict[str, Any]:
    """Return `target` with the RFC 6902 `operations` applied in order; `target` is unchanged."""
    document = copy.deepcopy(target)
    for operation in operations:
        op = operation.get("op")
        tokens = _pointer_tokens(str(operation.get("path", "")))
        if not tokens:
            raise PatchError("operations on the whole document are not supported")
        parent = _resolve(document, tokens[:-1])
        last = tokens[-1]
        if op == "remove":
            _remove(parent, last)
        elif op in ("add", "replace"):
            if "value" not in operation:
                raise PatchError(f"{op} at {operation['path']} has no value")
            _set(parent, last, copy.deepcopy(operation["value"]), insert=op == "add")
        else:
            raise PatchError(f"JSON6902 op {op!r} is not supported by kustomize-lite")
    return document


def _pointer_tokens(pointer: str) -> list[str]:
    if not pointer.startswith("/"):
        raise PatchError(f"JSON pointer {pointer!r} must start with '/'")
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


def _resolve(document: Any, tokens: list[str]) -> Any:
    node = document
    for token in tokens:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise PatchError(f"path element {token!r} does not exist")
    return node


def _remove(parent: Any, token: str) -> None:
    if isinstance(parent, dict) and token in parent:
        del parent[token]
    elif isinstance(parent, list) and token.isdigit() and int(token) < len(parent):
        del parent[int(token)]
    else:
        # kustomize fails the same way: removing a missing field is an error, not a no-op.
        raise PatchError(f"cannot remove missing element {token!r}")


def _set(parent: Any, token: str, value: Any, *, insert: bool) -> None:
    if isinstance(parent, dict):
        if not insert and token not in parent:
            raise PatchError(f"cannot replace missing element {token!r}")
        parent[token] = value
    elif isinstance(parent, list):
        if token == "-" and insert:
            parent.append(value)
        elif token.isdigit() and int(token) <= len(parent) - (0 if insert else 1):
            if insert:
                parent.insert(int(token), value)
            else:
                parent[int(token)] = value
        else:
            raise PatchError(f"list index {token!r} is out of range")
    else:
        raise PatchError(f"cannot set {token!r} inside a scalar")
