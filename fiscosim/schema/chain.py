"""The chain's parameters (:class:`ChainConfig`), FISCO BCOS 3.x's defaults, or 2.9's where
``version: '2.9'`` says so (docs/fisco2.md)."""

from __future__ import annotations

import re
from typing import Any, Literal, get_args

from pydantic import BaseModel, Field, field_validator, model_validator

from fiscosim.schema.errors import Invalid, show
from fiscosim.schema.fields import MODEL, Bool, Float, Int
from fiscosim.schema.limits import MAX_COST_US

FiscoVersion = Literal["2.9", "3.4", "3.5", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12",
                       "3.13", "3.14", "3.15", "3.16"]
"""The FISCO BCOS releases a scenario may name (``chain.version``), by minor release."""
VERSIONS: tuple[str, ...] = get_args(FiscoVersion)
DEFAULT_VERSION = "3.7"
"""FB's README names v3.7.3 the stable release for production use (docs/overload.md)."""
LAST_POOL_LIMIT_MINOR = 12
"""3.x releases up to 3.12 refuse a transaction when the pool is full; from v3.13.0 the check is
commented out, from v3.16.0 it is gone (docs/fisco-reference.md §2.2)."""
DEFAULT_POOL_LIMIT = 15_000
"""``[txpool] limit``'s default (``DEFAULT_POOL_LIMIT``, docs/fisco-reference.md §2.2)."""
V2_POOL_LIMIT = 150_000
"""2.x's ``[tx_pool] limit`` as ``build_chain.sh`` writes it (FB@v2.9.0 `tools/build_chain.sh`)."""
V2 = "2.9"
"""The one 2.x release modelled: the last (docs/fisco2.md)."""
V2_EMPTY_BLOCK_MS = 1000
"""2.x seals an empty block after this long without transactions (``c_intervalBlockTime``,
FB@v2.9.0 `libconfig/GlobalConfigure.h`), or after a third of the consensus timeout when that is
shorter (``PBFTEngine::resetConsensusTimeout``)."""
V2_WITHOUT = {
    "pipeline_size": "has one block in flight",
    "leader_period": "rotates the leader at every block",
    "is_serial_execute": "always runs the parallel contracts' calls as a DAG (enable_parallel, "
                         "forced on since 2.3.0)",
}
"""3.x fields 2.x has no counterpart for, and why: refused with ``version: '2.9'``."""
_RELEASE = re.compile(r"v?(\d+)\.(\d+|x)(?:\.(\d+))?")


def _refuse_version(value: Any) -> Any:
    """Says in one line why a ``chain.version`` the literal does not take is refused, where a
    better reason than "not allowed" exists; anything else is left to the literal."""
    if isinstance(value, bool) or not isinstance(value, str):
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise Invalid((), f"{show(value)} is a number, not a release name",
                          "write it in quotes, e.g. '3.12': YAML reads 3.10 as the number "
                          "3.1; with --set: chain.version=\"'3.12'\"")
        return value
    if value in VERSIONS:
        return value
    match = _RELEASE.fullmatch(value.strip())
    if match is None:
        return value
    major, minor, patch = match.groups()
    shown = f"{major}.{minor}"
    if major == "2":
        if minor == "x":
            raise Invalid((), "'2.x' names no release",
                          f"write '{V2}', the last 2.x release, the one modelled "
                          "(docs/fisco2.md)")
        if shown == V2 and (patch is not None or value != shown):
            raise Invalid((), f"{show(value)} is not a minor release name",
                          f"write '{V2}': every {V2}.x release behaves alike here")
        if shown != V2:
            raise Invalid((), f"FISCO BCOS {shown} is not modelled",
                          f"use '{V2}', the last 2.x release (docs/fisco2.md), or a 3.x "
                          f"release from '3.4' to '3.16'")
        return value
    if major != "3":
        return value
    if minor == "x":
        raise Invalid((), "'3.x' names no release, and 3.x releases differ in the pool limit",
                      "name one: '3.4' to '3.12' refuse transactions at txpool_limit, '3.13' "
                      "to '3.16' have no limit; see docs/overload.md")
    if int(minor) < 4:
        raise Invalid((), f"FISCO BCOS {shown} is not modelled",
                      "before 3.4 transactions were forwarded differently, "
                      "docs/fisco-reference.md §2.4: use '3.4' or later")
    if shown in VERSIONS and (patch is not None or value != shown):
        raise Invalid((), f"{show(value)} is not a minor release name",
                      f"write '{shown}': every {shown}.x release behaves alike here")
    return value


class ChainConfig(BaseModel):
    """The chain's parameters; every default is FISCO BCOS 3.x's (docs/fisco-reference.md §1.3-§1.7,
    §2.2-§2.5)."""

    model_config = MODEL

    version: FiscoVersion = DEFAULT_VERSION
    """The FISCO BCOS release modelled, by minor release: '2.9' or '3.4' to '3.16'. Among 3.x
    releases it decides the pool limit: up to '3.12' a pool holding ``txpool_limit``
    transactions refuses new ones (TxPoolIsFull), from '3.13' there is no limit
    (docs/overload.md, docs/fisco-reference.md §2.2); everything else follows FISCO's current
    code. The default, '3.7', is the release FISCO names stable for production. '2.9' runs 2.x's
    PBFT (docs/fisco2.md): each node executes a block before it votes, one block in flight, no
    CheckPoint round, an empty block after a second without transactions that changes the
    view, 16-ary Merkle roots, a 150,000-transaction pool and the dynamic block size; with it
    ``pipeline_size``, ``leader_period`` and ``is_serial_execute`` are refused (2.x has none of
    them)."""
    tx_count_limit: Int = Field(1000, ge=1, le=1_000_000)
    """Most transactions in a block (genesis ``block_tx_count_limit``, docs/fisco-reference.md
    §2.5). At most a million: a block of them is 300 MB on the wire, beyond any FISCO block."""
    min_seal_time_ms: Int = Field(500, ge=1, le=600_000)
    """A leader with pending transactions seals at the latest this long after its last seal
    (``[consensus] min_seal_time``, 1..600000, docs/fisco-reference.md §2.5). With '2.9':
    ``min_block_generation_time``, counted from the last block stored or view entered, and
    below the empty-block time (1,000 ms)."""
    leader_period: Int = Field(1, ge=1, le=1_000_000)
    """Consecutive blocks each leader proposes (``consensus_leader_period``, docs/fisco-reference.md
    §1.4). A million blocks is one leader for any run."""
    consensus_timeout_ms: Int = Field(3000, ge=1, le=3_600_000)
    """Base view-change timeout, × 1.5 per failed view (docs/fisco-reference.md §1.7: hard-coded
    3000 in 3.x). At most an hour: longer never fires in a run."""
    sync_status_ms: Float | None = Field(None, ge=10, le=600_000)
    """Every node sends its height to every other node of its group this often (FISCO's
    block-sync status gossip: 200 ms, ``idleWaitMs``, docs/fisco-reference.md §7). None: sealers
    send their status to observers and light nodes on each new block only, and sealers learn each
    other's heights from CheckPoints and ViewChanges (docs/architecture.md, decision 19): at 100
    sealers the gossip would be 50,000 more messages a second. From 10 ms (below it every node
    messages every other more than 100 times a second) to 10 minutes."""
    pipeline_size: Int = Field(50, ge=1, le=1000)
    """Proposals in flight between committed+1 and the high water mark (``pipeline_size``,
    docs/fisco-reference.md §1.6). FISCO requires >= 50; smaller values are allowed here for
    experiments, and up to 1,000 (every sealer holds the state of each proposal in flight)."""
    block_limit: Int = Field(1000, ge=1, le=5000)
    """A transaction is valid while ``cur < blockLimit <= cur + block_limit``; nonces are
    remembered for this many blocks (``[chain] block_limit``, max 5000, docs/fisco-reference.md
    §2.3)."""
    txpool_limit: Int | None = Field(None, ge=1, le=10_000_000)
    """A pool that holds this many transactions (sealed ones included) refuses new ones from RPC
    and from peers' pushes with TxPoolIsFull, before verifying them; a proposal's missing
    transactions are imported whatever the count (``[txpool] limit``, docs/fisco-reference.md
    §2.2, docs/overload.md). None: the release's default, 15,000 for 3.x and 150,000 for
    '2.9'. Releases from 3.13 have no limit: with them a value is refused. At most ten
    million, 600× FISCO's 3.x default."""
    tx_expiry_s: Float = Field(600, gt=0, le=31_536_000)
    """Pending transactions older than this are dropped (``txs_expiration_time``,
    docs/fisco-reference.md §2.2). At most a year (stored in µs), far past the end of any run: use
    it for "never"."""
    crypto_suite: Literal["secp256k1", "sm2"] = "secp256k1"
    """secp256k1 + keccak256 (FISCO's default) or SM2 + SM3 (guomi), docs/fisco-reference.md §3."""
    crypto_mode: Literal["modelled", "real"] = "modelled"
    """``modelled``: costs only; ``real``: really signed transactions, really verified
    (docs/architecture.md rule 4)."""
    verify_mode: Literal["recover", "batch"] = "recover"
    """How a node checks transaction signatures. ``recover``, FISCO's way: one recovery per
    signature, then the recovered sender compared (docs/fisco-reference.md §2.1), each costing
    the profile's ``verify_secp256k1``. ``batch`` asks what this project's batch verifier would
    change (docs/performance.md, "Batch verification"): each node caches the public key of
    every sender it has verified; the transactions of one source (a client's RPC batch, a
    peer's push, a proposal's fetched transactions) whose senders are cached are checked in one
    sum (the profile's ``verify_secp256k1_batch_row`` and ``_msm``; bad signatures add the
    bisection's work), the others recovered one by one, their keys filling the cache. The
    verdicts are the same; only the CPU time changes. secp256k1 only: an SM2 signature cannot
    be batch-verified (its check is on x alone and FISCO's r‖s‖pub carries no y parity)."""
    execution_us_per_tx: Float | None = Field(None, ge=0, le=MAX_COST_US)
    """One execution cost in µs for every contract call, in place of the contract models'
    per-method costs (a sweep knob; None: the models' costs, fiscosim/contracts/models). At
    most a second: costs are µs, more is a unit mistake."""
    is_serial_execute: Bool = True
    """FISCO's genesis ``is_serial_execute``: true (what ``build_chain.sh`` writes, FISCO's
    default) executes a block's transactions one after another; false runs the calls of
    parallel contracts (their conflict keys declared: DagTransfer, ParallelOk) as a DAG over
    the node's cores and the rest by DMC, one contract per executor thread
    (docs/fisco-reference.md §2.8, fiscosim/execution)."""

    @field_validator("version", mode="before")
    @classmethod
    def _check_version(cls, value: Any) -> Any:
        return _refuse_version(value)

    @model_validator(mode="before")
    @classmethod
    def _null_is_left_out(cls, data: Any) -> Any:
        """``null`` for a 3.x-only field means "left out", so that a 3.x file runs as 2.9 with
        ``--set chain.pipeline_size=null`` and the like."""
        if isinstance(data, dict) and any(data.get(name, 0) is None for name in V2_WITHOUT):
            data = {key: value for key, value in data.items()
                    if not (key in V2_WITHOUT and value is None)}
        return data

    @model_validator(mode="after")
    def _check_release(self) -> ChainConfig:
        if self.verify_mode == "batch" and self.crypto_suite != "secp256k1":
            raise Invalid("verify_mode",
                          f"batch verification is for secp256k1; {self.crypto_suite} "
                          "signatures cannot be batch-verified (SM2's check is on x alone and "
                          "FISCO's signature carries no y parity)",
                          "set chain.verify_mode: recover, or chain.crypto_suite: secp256k1")
        if self.txpool_limit is not None and self.pool_limit() is None:
            raise Invalid("txpool_limit",
                          f"{self.txpool_limit} would do nothing: FISCO {self.version} has no "
                          "pool limit",
                          "leave txpool_limit out, or set chain.version to '3.12' or earlier")
        if self.is_v2():
            for name, why in V2_WITHOUT.items():
                if name in self.model_fields_set:
                    raise Invalid(name, f"FISCO {V2} {why}: {name} would do nothing",
                                  f"leave {name} out with chain.version '{V2}'; with --set: "
                                  f"chain.{name}=null")
            if self.min_seal_time_ms >= self.empty_block_ms():
                raise Invalid("min_seal_time_ms",
                              f"{self.min_seal_time_ms} ms is not below FISCO {V2}'s empty-block "
                              f"time, {self.empty_block_ms():g} ms, which caps it",
                              f"set it below {self.empty_block_ms():g} ms (2.x's default is 500)")
        return self

    def unused_fields(self) -> tuple[str, ...]:
        """The fields the release modelled has no counterpart for (a dump leaves them out)."""
        return tuple(V2_WITHOUT) if self.is_v2() else ()

    def is_v2(self) -> bool:
        """Whether the release modelled is 2.x (docs/fisco2.md)."""
        return self.version == V2

    def empty_block_ms(self) -> float:
        """2.x: how long a leader with nothing pending waits before its empty block (3.x never
        seals one, docs/fisco-reference.md §1.7)."""
        timeout = self.consensus_timeout_ms
        return V2_EMPTY_BLOCK_MS if timeout >= V2_EMPTY_BLOCK_MS else timeout / 3

    def pool_limit(self) -> int | None:
        """The pool size at which admission refuses new transactions (TxPoolIsFull), or None
        when the release modelled has no limit (docs/fisco-reference.md §2.2)."""
        if self.is_v2():
            return V2_POOL_LIMIT if self.txpool_limit is None else self.txpool_limit
        minor = int(self.version.split(".")[1])
        if minor > LAST_POOL_LIMIT_MINOR:
            return None
        return DEFAULT_POOL_LIMIT if self.txpool_limit is None else self.txpool_limit
