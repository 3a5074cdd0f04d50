"""What the clients send: transactions to the nodes' RPC (:class:`WorkloadConfig`), queries to
light nodes, and how light nodes check what they get (:class:`LightConfig`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BaseModel, Discriminator, Field, Tag, field_validator, model_validator

from fiscosim.contracts import MAX_ACCOUNT_SKEW, ContractError, load_contract, shipped_name
from fiscosim.schema.errors import Invalid
from fiscosim.schema.fields import MODEL, Bool, Float, Int
from fiscosim.schema.limits import MAX_DELAY_MS, MAX_TPS

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
DEFAULT_OUTSTANDING = 10
"""Transactions a closed-loop client keeps in flight unless told: Caliper's default backlog
(``unfinished_per_client`` of its fixed-backlog controller, ``transactionLoad`` of fixed-load)."""
MAX_OUTSTANDING = 1_000_000
"""Transactions all closed-loop clients of a workload keep in flight at most: they are all sent
in the first tick, so this is a burst of MAX_TPS transactions at once."""
MAX_TOTAL_TXS = 2**31 - 1
"""java-sdk-demo's ``count`` is a Java int."""
DEFAULT_CLIENT_LATENCY_MS = 0.2
"""The client↔node hop unless told: an SDK on its node's LAN (see
:attr:`WorkloadConfig.client_latency_ms`)."""


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
    """Clients sending contract calls to the nodes' RPC (docs/fisco-reference.md §2.2): at a
    rate, with a fixed backlog, or a count under a rate cap (docs/clients.md)."""

    model_config = MODEL

    mode: Literal["open", "closed", "sdk_demo"] = "open"
    """How the clients decide when to send (docs/clients.md). ``open``: at ``rate_tps``,
    whatever the chain does with the transactions (Caliper's fixed-rate controller).
    ``closed``: each client keeps ``outstanding`` transactions in flight and sends a new one
    when one completes, its receipt or its rejection back (Caliper's fixed-backlog and
    fixed-load controllers). ``sdk_demo``: ``total_txs`` transactions in all, paced evenly at
    ``rate_tps`` at most, then no more (java-sdk-demo's stress tools such as PerformanceOk: a
    count and a QPS rate limiter)."""
    clients: Int = Field(1, ge=1, le=1000)
    """Client processes sharing the rate (or the count). At most 1,000: each draws its
    arrivals every tick (1,000 clients cost a second of wall time per 5 simulated seconds)."""
    rate_tps: Float = Field(300, ge=0, le=MAX_TPS)
    """Total offered rate over all clients, transactions per simulated second; mode
    ``sdk_demo``'s QPS cap; not read by mode ``closed``. At most a million, 20× FISCO's 50,000
    TPS; what rate × duration needs in memory is checked apart (fiscosim.sim.estimate)."""
    arrivals: Literal["constant", "poisson"] = "poisson"
    """Mode ``open``: ``poisson`` (each tick's count a Poisson draw) or ``constant`` (the
    rate's fraction carried from tick to tick). Mode ``sdk_demo`` paces evenly (a rate
    limiter) and mode ``closed`` sends as transactions complete, so neither reads it."""
    outstanding: Int | None = Field(None, ge=1, le=MAX_OUTSTANDING)
    """Mode ``closed`` only (refused otherwise): transactions each client keeps in flight,
    sent and not yet answered by a receipt or a rejection. Unset: 10, Caliper's default
    backlog. Clients × outstanding is at most a million (all are sent in the first tick)."""
    total_txs: Int | None = Field(None, ge=1, le=MAX_TOTAL_TXS)
    """Mode ``sdk_demo`` only, and needed there: transactions the clients send in all
    (java-sdk-demo's ``count``), split evenly over the clients, at ``rate_tps`` at most; once
    it is sent they stop. ``duration_s`` must be long enough to send it at that rate. At most
    2^31 − 1, a Java int."""
    client_latency_ms: Float = Field(DEFAULT_CLIENT_LATENCY_MS, ge=0, le=MAX_DELAY_MS)
    """The one-way delay between a client and its node: a batch reaches the node's RPC this
    long after the client sends it, and a receipt (or rejection) reaches the client this long
    after the node commits (or refuses) the transaction. Every latency reported is from the
    send to the receipt at the client, so it includes this twice. Default 0.2 ms: an SDK on
    its node's LAN, as in FISCO's published stress tests (every SDK and node on its own VPS, 1
    Gbit network; docs/fisco-reference.md §6) and the LAN links of the ready scenario
    server-8core-lan; a client talks to a node near it even when the nodes are far apart, so
    it is not the network's latency. 0 puts the client at its node. At most a minute."""
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

    @model_validator(mode="after")
    def _check_mode(self) -> WorkloadConfig:
        # Each mode's own field is refused in the other modes: a setting that does nothing.
        if self.outstanding is not None and self.mode != "closed":
            raise Invalid("outstanding", f"only mode closed uses it, and mode is {self.mode}",
                          "remove workload.outstanding, or set workload.mode: closed")
        if self.total_txs is not None and self.mode != "sdk_demo":
            raise Invalid("total_txs", f"only mode sdk_demo uses it, and mode is {self.mode}",
                          "remove workload.total_txs, or set workload.mode: sdk_demo")
        if self.mode == "sdk_demo":
            if self.total_txs is None:
                raise Invalid("total_txs", "mode sdk_demo sends a count of transactions and "
                              "none is given", "set workload.total_txs, java-sdk-demo's count, "
                              "e.g. 10000")
            if self.rate_tps <= 0:
                raise Invalid("rate_tps", "0 is mode sdk_demo's QPS cap: nothing would be sent",
                              "set workload.rate_tps, java-sdk-demo's qps, above 0")
        if self.mode == "closed" and self.clients * self.backlog > MAX_OUTSTANDING:
            raise Invalid("outstanding", f"{self.clients:,} clients × {self.backlog:,} in "
                          f"flight is {self.clients * self.backlog:,}, all sent in the first "
                          f"tick", f"keep clients × outstanding at most {MAX_OUTSTANDING:,}")
        return self

    @property
    def backlog(self) -> int:
        """Mode ``closed``: transactions each client keeps in flight (``outstanding``, or
        :data:`DEFAULT_OUTSTANDING`)."""
        return self.outstanding if self.outstanding is not None else DEFAULT_OUTSTANDING

    def sdk_demo_seconds(self) -> float:
        """Mode ``sdk_demo``: simulated seconds its clients take to send ``total_txs`` at
        ``rate_tps`` (the client with the most of them, when they do not split evenly)."""
        assert self.total_txs is not None and self.rate_tps > 0
        most = -(-self.total_txs // self.clients)  # the first clients take the remainder
        return most * self.clients / self.rate_tps

    def check_run(self, duration_s: float, where: tuple) -> None:
        """Checks against the run (``where``: this workload's path in the scenario): mode
        ``sdk_demo`` must send its whole count before the workload ends."""
        if self.mode != "sdk_demo":
            return
        needed = self.sdk_demo_seconds()
        # Compared in the run's whole microseconds (fiscosim.sim.world truncates duration_s).
        if needed * 1e6 > int(duration_s * 1e6) * (1 + 1e-12):
            assert self.total_txs is not None
            raise Invalid((*where, "total_txs"),
                          f"{self.total_txs:,} transactions at {self.rate_tps:g} a second take "
                          f"{needed:g} s, longer than duration_s {duration_s:g}",
                          f"make duration_s at least {needed:g}, raise rate_tps or send fewer")

    def warnings(self, where: str) -> list[str]:
        """Settings given that this workload's mode does not read (``where``: its dotted path),
        one line each, for :meth:`fiscosim.schema.Scenario.warnings`."""
        given = self.model_fields_set
        found = []
        if self.mode == "closed":
            if "rate_tps" in given:
                found.append(f"{where}.rate_tps: {self.rate_tps:g} is not read by mode closed "
                             "(its clients send as their transactions complete)")
            if "arrivals" in given:
                found.append(f"{where}.arrivals: {self.arrivals} is not read by mode closed "
                             "(its clients send as their transactions complete)")
        elif self.mode == "sdk_demo" and "arrivals" in given and self.arrivals != "constant":
            found.append(f"{where}.arrivals: {self.arrivals} is not read by mode sdk_demo (its "
                         "rate limiter paces the sends evenly)")
        return found

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


def _workloads(scenario: Any) -> list[tuple[tuple, WorkloadConfig]]:
    """The scenario's workloads with their paths: its own, and each group's own."""
    found = [(("workload",), scenario.workload)]
    for g, group in enumerate(scenario.groups or ()):
        if group.workload is not None:
            found.append((("groups", g, "workload"), group.workload))
    return found


def check_workloads(scenario: Any) -> None:
    """The workloads' checks against the run (:meth:`WorkloadConfig.check_run`); raises
    :class:`Invalid` naming the first problem. Called by the Scenario's cross-field check."""
    for where, workload in _workloads(scenario):
        workload.check_run(scenario.duration_s, where)


def workload_warnings(scenario: Any) -> list[str]:
    """The workloads' warnings (:meth:`WorkloadConfig.warnings`), for ``Scenario.warnings``."""
    return [line for where, workload in _workloads(scenario)
            for line in workload.warnings(".".join(map(str, where)))]


class LightConfig(BaseModel):
    """How light nodes check what full nodes send them (docs/fisco-reference.md §4.2)."""

    model_config = MODEL

    verify_signatures: Bool = True
    """Check each synced header's signature list against the consensus weights (weight ≥ Q).
    FISCO's light node does not (§4.2, unconfirmed); false models it exactly."""
    max_headers: Int = Field(50, ge=1, le=10_000)
    """Headers per sync request (``LIGHTNODE_MAX_REQUEST_BLOCKS_COUNT = 50``); at most 10,000,
    one reply carrying them all."""
