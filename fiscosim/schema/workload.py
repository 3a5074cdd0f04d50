"""What the clients send: transactions to the nodes' RPC (:class:`WorkloadConfig`), queries to
light nodes, and how light nodes check what they get (:class:`LightConfig`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Discriminator, Field, Tag, model_validator

from fiscosim.schema.errors import Invalid
from fiscosim.schema.fields import MODEL, Bool, Float, Int
from fiscosim.schema.limits import MAX_TPS


def _targets_kind(value: Any) -> str:
    return "~list" if isinstance(value, list | tuple) else "~keyword"


TargetsRef = Annotated[
    Union[  # noqa: UP007
        Annotated[Literal["sealers", "all"], Tag("~keyword")],
        Annotated[list[str], Tag("~list")],
    ],
    Discriminator(_targets_kind),
]


class WorkloadConfig(BaseModel):
    """Open-loop clients sending transfer transactions to the nodes' RPC (docs/fisco-reference.md
    §2.2)."""

    model_config = MODEL

    clients: Int = Field(1, ge=1, le=1000)
    """Client processes sharing the rate. At most 1,000: each draws its arrivals every tick
    (1,000 clients cost a second of wall time per 5 simulated seconds)."""
    rate_tps: Float = Field(300, ge=0, le=MAX_TPS)
    """Total offered rate over all clients, transactions per simulated second. At most a
    million, 20× FISCO's 50,000 TPS; what rate × duration needs in memory is checked apart
    (fiscosim.sim.estimate)."""
    arrivals: Literal["constant", "poisson"] = "poisson"
    targets: TargetsRef = "sealers"
    """Whose RPC the clients send to, round-robin per client: ``sealers``, ``all`` or a list
    of node names."""
    tx_size_bytes: Int = Field(300, ge=64, le=1 << 20)
    """Encoded size of a transaction on the wire. At most 1 MiB: sizes are an int32 column,
    summed over blocks."""
    tick_ms: Float = Field(10, ge=0.1, le=60_000)
    """Clients emit each tick's arrivals as one batch: a modelling granularity (transactions
    of a tick share a submit time), not a FISCO parameter. From 0.1 ms (each tick is an event:
    below it ticks outnumber transactions) to a minute."""
    contract: Literal["transfer"] = "transfer"
    """The contract model the transactions call. Only ``transfer`` is modelled until contract
    models exist (contracts/README.md); any other name is refused rather than run as it."""
    accounts: Int = Field(1000, ge=1, le=1_000_000)
    """Distinct senders. At most a million: real crypto mode derives a signing key per account,
    and senders are an int32 column."""
    invalid_fraction: Float = Field(0.0, ge=0, le=1)
    """Fraction of transactions sent with a corrupted signature (one bit of s flipped). In
    ``real`` crypto mode they really fail verification; in ``modelled`` mode they are marked
    invalid and charged the same verification cost. Txpools reject them as InvalidSignature."""
    query_rate: Float = Field(0.0, ge=0, le=10_000)
    """Client queries per simulated second to the group's light nodes (Poisson), each for a
    committed transaction with its Merkle proof, a receipt with its proof, or a whole block,
    in turn (docs/fisco-reference.md §4.2). Needs a light node in the group. At most 10,000: each
    query is a request, a proof and a reply handled one by one."""

    @model_validator(mode="after")
    def _check_targets(self) -> WorkloadConfig:
        if isinstance(self.targets, list) and not self.targets:
            raise Invalid(
                "targets",
                "the target list is empty",
                "name at least one node, or use 'sealers' or 'all'",
            )
        return self


class LightConfig(BaseModel):
    """How light nodes check what full nodes send them (docs/fisco-reference.md §4.2)."""

    model_config = MODEL

    verify_signatures: Bool = True
    """Check each synced header's signature list against the consensus weights (weight ≥ Q).
    FISCO's light node does not (§4.2, unconfirmed); false models it exactly."""
    max_headers: Int = Field(50, ge=1, le=10_000)
    """Headers per sync request (``LIGHTNODE_MAX_REQUEST_BLOCKS_COUNT = 50``); at most 10,000,
    one reply carrying them all."""
