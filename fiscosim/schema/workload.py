"""What the clients send: transactions to the nodes' RPC (:class:`WorkloadConfig`), queries to
light nodes, and how light nodes check what they get (:class:`LightConfig`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BaseModel, Discriminator, Field, Tag, field_validator, model_validator

from fiscosim.contracts import MAX_ACCOUNT_SKEW, ContractError, load_contract, shipped_name
from fiscosim.schema.errors import Invalid
from fiscosim.schema.fields import MODEL, Bool, Float, Int
from fiscosim.schema.limits import MAX_TPS

if TYPE_CHECKING:
    from fiscosim.contracts import MethodTable

DEFAULT_CONTRACT = "DagTransfer"
"""The contract model a workload calls unless it names one."""
CONTRACT_ALIASES = {"transfer": DEFAULT_CONTRACT}
"""Old names of contract models: scenario files written before contract models existed say
``contract: transfer``, the only model then, which DagTransfer stands for now."""
MAX_MIX = 100
"""Contracts in one mix at most."""
MixWeight = Annotated[Float, Field(gt=0, le=1_000_000)]
"""A contract's weight in a mix: relative, above 0."""


def _targets_kind(value: Any) -> str:
    return "~list" if isinstance(value, list | tuple) else "~keyword"


TargetsRef = Annotated[
    Union[  # noqa: UP007
        Annotated[Literal["sealers", "all"], Tag("~keyword")],
        Annotated[list[str], Tag("~list")],
    ],
    Discriminator(_targets_kind),
]


def _contract_kind(value: Any) -> str:
    return "~mix" if isinstance(value, Mapping) else "~name"


ContractRef = Annotated[
    Union[  # noqa: UP007
        Annotated[str, Tag("~name")],
        Annotated[dict[str, MixWeight], Tag("~mix")],
    ],
    Discriminator(_contract_kind),
]


def _canonical(ref: Any) -> Any:
    """A shipped model's own name for ``ref`` (its alias, or another case); else ``ref``."""
    if not isinstance(ref, str):
        return ref
    ref = CONTRACT_ALIASES.get(ref.lower(), ref)
    return shipped_name(ref) or ref


def _checked(ref: str, where: tuple) -> str:
    """Loads ``ref`` (a shipped name or a model file's path); its model's name."""
    try:
        return load_contract(ref).name
    except ContractError as error:
        if error.where == "contract":  # the reference itself: an unknown name, a bad type
            problem = error.problem
        else:  # the model file: name it, and the field in it
            problem = ": ".join(part for part in (error.where, error.field, error.problem) if part)
        raise Invalid(where, problem, error.fix) from None


class WorkloadConfig(BaseModel):
    """Open-loop clients sending contract calls to the nodes' RPC (docs/fisco-reference.md
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
    contract: ContractRef = DEFAULT_CONTRACT
    """The contract model the transactions call: a shipped model (CpuHeavy, DagTransfer,
    HelloWorld, KvTable, ParallelOk, SmallBank; any case), the path of a model YAML (relative
    to the scenario file when it is there, else to the working directory), or a weighted mix
    ``{model: weight}`` whose weights (above 0) are the models' shares of the calls. Each
    call's method is drawn with the weights in its model (contracts/README.md). ``transfer``,
    the name older scenario files use, is taken for DagTransfer."""
    accounts: Int = Field(1000, ge=1, le=1_000_000)
    """Distinct senders, and the accounts a contract call draws its account keys from. At most
    a million: real crypto mode derives a signing key per account, and senders are an int32
    column."""
    account_skew: Float = Field(0.0, ge=0, le=MAX_ACCOUNT_SKEW)
    """Zipf exponent s of the accounts a contract call takes: the account of rank k (1 to
    ``accounts``) is drawn with probability ∝ 1/k^s; 0 draws them uniformly. A call taking two
    accounts draws two distinct ones (the second is drawn again while it equals the first). At
    most 4, where the first account already takes 92 % of the draws."""
    invalid_fraction: Float = Field(0.0, ge=0, le=1)
    """Fraction of transactions sent with a corrupted signature (one bit of s flipped). In
    ``real`` crypto mode they really fail verification; in ``modelled`` mode they are marked
    invalid and charged the same verification cost. Txpools reject them as InvalidSignature."""
    query_rate: Float = Field(0.0, ge=0, le=10_000)
    """Client queries per simulated second to the group's light nodes (Poisson), each for a
    committed transaction with its Merkle proof, a receipt with its proof, or a whole block,
    in turn (docs/fisco-reference.md §4.2). Needs a light node in the group. At most 10,000: each
    query is a request, a proof and a reply handled one by one."""

    @field_validator("contract", mode="before")
    @classmethod
    def _canonical_contract(cls, value: Any) -> Any:
        # Shipped models under their own names, so that the run and its digest see one spelling;
        # a mix whose keys would collide is left as written, for the check below to name.
        if isinstance(value, str):
            return _canonical(value)
        if isinstance(value, Mapping):
            renamed = {_canonical(ref): weight for ref, weight in value.items()}
            return renamed if len(renamed) == len(value) else value
        return value

    @model_validator(mode="after")
    def _check_targets(self) -> WorkloadConfig:
        if isinstance(self.targets, list) and not self.targets:
            raise Invalid(
                "targets",
                "the target list is empty",
                "name at least one node, or use 'sealers' or 'all'",
            )
        return self

    @model_validator(mode="after")
    def _check_contract(self) -> WorkloadConfig:
        if isinstance(self.contract, str):
            _checked(self.contract, ("contract",))
        else:
            if not self.contract:
                raise Invalid("contract", "the mix is empty",
                              f"name at least one contract with a weight, e.g. "
                              f"{{{DEFAULT_CONTRACT}: 1}}")
            if len(self.contract) > MAX_MIX:
                raise Invalid("contract", f"{len(self.contract):,} contracts in the mix",
                              f"mix at most {MAX_MIX}")
            first: dict[str, str] = {}
            for ref in self.contract:
                name = _checked(ref, ("contract", ref))
                if name in first:
                    raise Invalid(("contract", ref),
                                  f"{ref!r} is contract {name} again (also {first[name]!r})",
                                  "name each contract once, with its whole weight")
                first[name] = ref
        if self.accounts < 2:
            for ref in self.contract_mix:
                model = load_contract(ref)
                for method in model.methods:
                    if method.accounts == 2 and method.weight > 0:
                        raise Invalid("accounts", f"{model.name}.{method.name} takes two "
                                      f"distinct accounts and there is {self.accounts}",
                                      "set workload.accounts to 2 or more")
        return self

    @property
    def contract_mix(self) -> dict[str, float]:
        """``contract`` as a mix ``{model: weight}`` (one model: weight 1)."""
        if isinstance(self.contract, str):
            return {self.contract: 1.0}
        return dict(self.contract)

    def methods(self) -> MethodTable:
        """The run's contract methods: :func:`fiscosim.contracts.method_table` of the mix."""
        from fiscosim.contracts import method_table  # numpy: not when a scenario loads

        return method_table(self.contract_mix)


class LightConfig(BaseModel):
    """How light nodes check what full nodes send them (docs/fisco-reference.md §4.2)."""

    model_config = MODEL

    verify_signatures: Bool = True
    """Check each synced header's signature list against the consensus weights (weight ≥ Q).
    FISCO's light node does not (§4.2, unconfirmed); false models it exactly."""
    max_headers: Int = Field(50, ge=1, le=10_000)
    """Headers per sync request (``LIGHTNODE_MAX_REQUEST_BLOCKS_COUNT = 50``); at most 10,000,
    one reply carrying them all."""
