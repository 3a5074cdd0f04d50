"""The chain's parameters (:class:`ChainConfig`), FISCO BCOS 3.x's defaults."""

from __future__ import annotations

import re
from typing import Any, Literal, get_args

from pydantic import BaseModel, Field, field_validator, model_validator

from fiscosim.schema.errors import Invalid, show
from fiscosim.schema.fields import MODEL, Bool, Float, Int
from fiscosim.schema.limits import MAX_COST_US

FiscoVersion = Literal["3.4", "3.5", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13",
                       "3.14", "3.15", "3.16"]
"""The FISCO BCOS releases a scenario may name (``chain.version``), by minor release."""
VERSIONS: tuple[str, ...] = get_args(FiscoVersion)
DEFAULT_VERSION = "3.7"
"""FB's README names v3.7.3 the stable release for production use (docs/overload.md)."""
LAST_POOL_LIMIT_MINOR = 12
"""3.x releases up to 3.12 refuse a transaction when the pool is full; from v3.13.0 the check is
commented out, from v3.16.0 it is gone (docs/fisco-reference.md §2.2)."""
DEFAULT_POOL_LIMIT = 15_000
"""``[txpool] limit``'s default (``DEFAULT_POOL_LIMIT``, docs/fisco-reference.md §2.2)."""
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
        raise Invalid((), f"FISCO BCOS {value} is not modelled yet",
                      f"use a 3.x release from '3.4' to '3.16'; the default is "
                      f"'{DEFAULT_VERSION}'")
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
    """The FISCO BCOS 3.x release modelled, by minor release ('3.4' to '3.16'). It decides the
    pool limit: up to '3.12' a pool holding ``txpool_limit`` transactions refuses new ones
    (TxPoolIsFull), from '3.13' there is no limit (docs/overload.md, docs/fisco-reference.md
    §2.2). Everything else follows FISCO's current code whatever the release. The default,
    '3.7', is the release FISCO names stable for production. 2.x is not modelled yet."""
    tx_count_limit: Int = Field(1000, ge=1, le=1_000_000)
    """Most transactions in a block (genesis ``block_tx_count_limit``, docs/fisco-reference.md
    §2.5). At most a million: a block of them is 300 MB on the wire, beyond any FISCO block."""
    min_seal_time_ms: Int = Field(500, ge=1, le=600_000)
    """A leader with pending transactions seals at the latest this long after its last seal
    (``[consensus] min_seal_time``, 1..600000, docs/fisco-reference.md §2.5)."""
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
    txpool_limit: Int = Field(DEFAULT_POOL_LIMIT, ge=1, le=10_000_000)
    """A pool that holds this many transactions (sealed ones included) refuses new ones from RPC
    and from peers' pushes with TxPoolIsFull, before verifying them; a proposal's missing
    transactions are imported whatever the count (``[txpool] limit``, docs/fisco-reference.md
    §2.2, docs/overload.md). Only releases up to 3.12 have the limit: with a later ``version``
    any other value is refused. At most ten million, 600× FISCO's default."""
    tx_expiry_s: Float = Field(600, gt=0, le=31_536_000)
    """Pending transactions older than this are dropped (``txs_expiration_time``,
    docs/fisco-reference.md §2.2). At most a year (stored in µs), far past the end of any run: use
    it for "never"."""
    crypto_suite: Literal["secp256k1", "sm2"] = "secp256k1"
    """secp256k1 + keccak256 (FISCO's default) or SM2 + SM3 (guomi), docs/fisco-reference.md §3."""
    crypto_mode: Literal["modelled", "real"] = "modelled"
    """``modelled``: costs only; ``real``: really signed transactions, really verified
    (docs/architecture.md rule 4)."""
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

    @model_validator(mode="after")
    def _check_pool_limit(self) -> ChainConfig:
        if self.pool_limit() is None and self.txpool_limit != DEFAULT_POOL_LIMIT:
            raise Invalid("txpool_limit",
                          f"{self.txpool_limit} would do nothing: FISCO {self.version} has no "
                          "pool limit",
                          "leave txpool_limit out, or set chain.version to '3.12' or earlier")
        return self

    def pool_limit(self) -> int | None:
        """The pool size at which admission refuses new transactions (TxPoolIsFull), or None
        when the release modelled has no limit (docs/fisco-reference.md §2.2)."""
        minor = int(self.version.split(".")[1])
        return self.txpool_limit if minor <= LAST_POOL_LIMIT_MINOR else None
