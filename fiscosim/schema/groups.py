"""Groups (ledgers): the single group's ids (:class:`GroupConfig`), the groups of a multi-group
scenario (:class:`GroupSpec`) and a group resolved with its members (:class:`ResolvedGroup`)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from fiscosim.schema.fields import MODEL
from fiscosim.schema.workload import WorkloadConfig


class GroupConfig(BaseModel):
    """The group (ledger) the nodes run; sealers and observers come from the nodes' roles."""

    model_config = MODEL

    id: str = Field("group0", min_length=1)
    """Group id (``build_chain.sh`` default ``group0``, docs/fisco-reference.md §4)."""
    chain_id: str = Field("chain0", min_length=1)
    """Chain id (default ``chain0``, docs/fisco-reference.md §4)."""


class GroupSpec(BaseModel):
    """One group (ledger) of a multi-group scenario (docs/fisco-reference.md §4: its own PBFT,
    txpool and ledger; groups share the nodes' network and, for a node in several, its CPU and
    uplink)."""

    model_config = MODEL

    id: str = Field(min_length=1)
    """The group id, unique in the scenario."""
    sealers: list[str] = Field(min_length=1)
    """Names of the nodes that vote in this group's PBFT (order does not matter)."""
    observers: list[str] = []
    """Names of the nodes that follow this group by block sync."""
    light: list[str] = []
    """Names of the group's light nodes (headers only, docs/fisco-reference.md §4.2)."""
    workload: WorkloadConfig | None = None
    """This group's clients; None: the scenario's ``workload`` (its own copy per group)."""


class ResolvedGroup(BaseModel):
    """A group with its members and workload filled in (:meth:`Scenario.group_specs`)."""

    model_config = MODEL

    id: str
    sealers: list[str]
    observers: list[str]
    light: list[str] = []
    workload: WorkloadConfig
