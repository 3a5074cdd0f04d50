"""YAML as scenarios are read and written: ``safe_load`` without duplicate keys, with
:data:`~fiscosim.schema.limits.MAX_DEPTH` and :data:`~fiscosim.schema.limits.MAX_YAML_VALUES`
enforced while a document is composed, and with YAML 1.2's ``1e12`` as a number. Scenario files
(:mod:`fiscosim.scenario`) and ``--set`` values (:mod:`fiscosim.scenario.overrides`) are read
with :func:`parse_yaml`; :meth:`Scenario.dump_yaml` writes with :class:`ScenarioDumper`."""

from __future__ import annotations

import re
from typing import Any

import yaml

from fiscosim.schema.limits import MAX_DEPTH, MAX_YAML_VALUES


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load that rejects a key given twice in one mapping (YAML would keep the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:
                continue
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r}, first at line {first + 1}",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


class TooBig(yaml.YAMLError):
    """A scenario file or --set value over one of the caps (depth, values, recursion)."""

    def __init__(self, problem: str, fix: str, mark: Any = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix
        self.problem_mark = mark


class ScenarioLoader(_UniqueKeyLoader):
    """How scenario files and --set values are read: safe_load without duplicate keys, with
    :data:`MAX_DEPTH` and :data:`MAX_YAML_VALUES` enforced while the document is composed (the
    composer recurses per level, so the depth is checked before it recurses), and with YAML
    1.2's ``1e12`` as a number (PyYAML's YAML 1.1 reads it as text)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._values = 0
        # id(node) -> (values, depth) of what the node stands for once aliases are expanded
        self._expanded: dict[int, tuple[int, int]] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            return super().compose_node(parent, index)
        mark = self.peek_event().start_mark
        self._depth += 1
        self._values += 1
        if self._depth > MAX_DEPTH:
            raise TooBig(f"nested more than {MAX_DEPTH} levels deep",
                          "a scenario needs 7 levels at most: flatten it", mark)
        if self._values > MAX_YAML_VALUES:
            raise TooBig(f"more than {MAX_YAML_VALUES:,} keys, items and values",
                          "a scenario has a few hundred: remove what is not a scenario field",
                          mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        children: list[Any] = []
        if isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        values, depth = 1, 1
        for child in children:
            size = self._expanded.get(id(child))
            if size is None:
                raise TooBig("an alias refers to the collection it is in",
                              "YAML aliases must not make a loop", mark)
            values += size[0]
            depth = max(depth, size[1] + 1)
        if values > MAX_YAML_VALUES or depth > MAX_DEPTH:
            raise TooBig(f"its aliases expand to more than {MAX_YAML_VALUES:,} values or "
                          f"{MAX_DEPTH} levels", "write the values out instead of aliases", mark)
        self._expanded[id(node)] = (values, depth)
        return node


class ScenarioDumper(yaml.SafeDumper):
    """safe_dump that quotes text the loader would read as a number (a description '1e5')."""


for _side in (ScenarioLoader, ScenarioDumper):
    _side.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
        list("-+0123456789"),
    )


def parse_yaml(text: str) -> Any:
    # A SafeLoader subclass: as safe as yaml.safe_load.
    loader = ScenarioLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
