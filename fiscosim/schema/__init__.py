"""The scenario schema as pydantic models, validated completely before anything runs.

A scenario says everything a run needs: the chain's parameters (FISCO BCOS 3.x defaults), the
nodes and their hardware, the network, the workload, the faults, the seed. A mistake is one
line that names the source, the field and the fix (:class:`ScenarioError`)::

    scenarios/x.yaml: workload.rate_tps: -5 is too small (use a value >= 0)
    scenarios/x.yaml: wrkload: unknown key 'wrkload' (did you mean 'workload'? known keys: ...)

Every model forbids unknown keys and is frozen (a validated scenario never changes; build a
new one with :func:`fiscosim.scenario.with_overrides`). Defaults are FISCO BCOS 3.x's, each
with its docs/fisco-reference.md section in the field's docstring.

**Limits.** Every number has a range (docs/scenario-reference.md lists them, each upper bound
with its reason, :mod:`fiscosim.schema.limits`), types are strict (``'1000'`` in quotes is text,
not a number; a whole float such as ``1e6`` is taken for an integer), and text is at most
:data:`MAX_TEXT` characters. What the ranges allow together is bounded by the run's memory
estimate (:mod:`fiscosim.sim.estimate`), checked when a scenario file is loaded
(:func:`fiscosim.scenario.load_scenario`: this package reads no scenario file and applies no
``--set``; both are loading, at the top of the package).

The package, bottom to top: :mod:`~fiscosim.schema.limits` (the limits),
:mod:`~fiscosim.schema.errors` (one-line errors), :mod:`~fiscosim.schema.fields` (strict
field types), the models (:mod:`~fiscosim.schema.chain`, :mod:`~fiscosim.schema.nodes`,
:mod:`~fiscosim.schema.network`, :mod:`~fiscosim.schema.workload`,
:mod:`~fiscosim.schema.groups`, :mod:`~fiscosim.schema.faults`,
:mod:`~fiscosim.schema.scenario`), what validating a mapping needs
(:mod:`~fiscosim.schema.tree`, :mod:`~fiscosim.schema.explain`), and the field reference
(:mod:`~fiscosim.schema.reference`). It imports nothing from ``fiscosim.sim`` or above.

>>> s = Scenario.from_dict({"name": "demo", "nodes": {"count": 4}})
>>> s.sealers, s.chain.tx_count_limit, s.chain.min_seal_time_ms
(['node0', 'node1', 'node2', 'node3'], 1000, 500)
>>> len(scenario_digest(s))
64
"""

from __future__ import annotations

from fiscosim.schema.chain import ChainConfig
from fiscosim.schema.errors import ScenarioError
from fiscosim.schema.faults import FAULT_ROLES, FaultSpec
from fiscosim.schema.groups import GroupConfig, GroupSpec, ResolvedGroup
from fiscosim.schema.limits import (
    MAX_CORES,
    MAX_COST_US,
    MAX_DELAY_MS,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_NODES,
    MAX_RUN_S,
    MAX_TEXT,
    MAX_TPS,
    MAX_YAML_VALUES,
)
from fiscosim.schema.network import LatencyConfig, NetworkConfig, TopologyConfig
from fiscosim.schema.nodes import NodesConfig, NodeSpec, ProfileCosts, ProfileSpec
from fiscosim.schema.reference import field_reference
from fiscosim.schema.scenario import Scenario, scenario_digest
from fiscosim.schema.workload import LightConfig, WorkloadConfig

__all__ = [
    "FAULT_ROLES",
    "MAX_CORES",
    "MAX_COST_US",
    "MAX_DELAY_MS",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "MAX_RUN_S",
    "MAX_TEXT",
    "MAX_TPS",
    "MAX_YAML_VALUES",
    "ChainConfig",
    "FaultSpec",
    "GroupConfig",
    "GroupSpec",
    "LatencyConfig",
    "LightConfig",
    "NetworkConfig",
    "NodeSpec",
    "NodesConfig",
    "ProfileCosts",
    "ProfileSpec",
    "ResolvedGroup",
    "Scenario",
    "ScenarioError",
    "TopologyConfig",
    "WorkloadConfig",
    "field_reference",
    "scenario_digest",
]
