"""The chain's parameters (:class:`ChainConfig`), FISCO BCOS 3.x's defaults."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from fiscosim.schema.fields import MODEL, Bool, Float, Int
from fiscosim.schema.limits import MAX_COST_US


class ChainConfig(BaseModel):
    """The chain's parameters; every default is FISCO BCOS 3.x's (docs/fisco-reference.md §1.3-§1.7,
    §2.2-§2.5)."""

    model_config = MODEL

    version: Literal["3.x"] = "3.x"
    """The FISCO BCOS behaviour modelled: 3.x (two-phase PBFT with checkpoints,
    docs/fisco-reference.md §1.5)."""
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
    txpool_limit: Int = Field(15000, ge=1, le=10_000_000)
    """Most transactions a txpool holds from RPC (``[txpool] limit``, docs/fisco-reference.md §2.2).
    At most ten million, 600× FISCO's default."""
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
